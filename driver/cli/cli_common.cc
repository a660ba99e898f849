// Pieces every command shares: the RUN argument (a folder or a bare name).
#include <sstream>

#include "driver/cli/commands.h"
#include "driver/run/run_session.h"
#include "util/suggest.h"

namespace adrs {

CLI::Option* add_run_argument(CLI::App* command, std::string* run_dir) {
  CLI::Validator to_run_dir(
      [](std::string& value) {
        value = resolve_run_dir(value);
        return std::string();
      },
      "", "run folder or name");
  return command->add_option("run", *run_dir, "The run: its folder (runs/my-run) or its name in runs/ (my-run)")
      ->required()
      ->transform(to_run_dir)
      ->type_name("RUN");
}

std::string suggest_flags(const CLI::App& app, const std::string& error) {
  const CLI::App* command = &app;
  for (const CLI::App* sub : app.get_subcommands())  // the parsed ones
    command = sub;
  std::vector<std::string> flags;
  for (const CLI::Option* option : command->get_options())
    for (const std::string& name : option->get_lnames()) flags.push_back("--" + name);
  std::string hints;
  std::istringstream words(error.substr(error.find(':') == std::string::npos ? error.size() : error.find(':') + 1));
  for (std::string word; words >> word;) {
    if (word.rfind("--", 0) != 0) continue;
    const std::string flag = word.substr(0, word.find('='));
    const std::string best = closest_name(flag, flags);
    if (!best.empty() && best != flag) hints += (hints.empty() ? "" : ", ") + flag + " -> " + best;
  }
  return hints.empty() ? "" : " (did you mean: " + hints + "?)";
}

}  // namespace adrs

// adrs: AI-driven research for systems. Evolves sparse-attention maskers.
#include <sys/prctl.h>

#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "driver/cli/commands.h"
#include "driver/llm/llm_proposer.h"
#include "driver/run/run_session.h"
#include "util/suggest.h"

namespace {

// Every command of the CLI, each with the function that runs it once CLI11 has parsed its flags.
std::map<CLI::App*, adrs::CommandRunner> add_commands(CLI::App& app) {
  std::map<CLI::App*, adrs::CommandRunner> runners;
  auto add = [&](adrs::CommandRunner runner) { runners[app.get_subcommands({}).back()] = std::move(runner); };
  // proposer = "llm": the LLM proposer built from the run config's [llm] table (driver/llm/llm_proposer.h).
  adrs::set_llm_proposer_factory([](const adrs::RunConfig& config, adrs::RunDb& db, std::unique_ptr<adrs::Proposer>* out) {
    return adrs::make_llm_proposer(config.llm, &db, out);
  });
  add(adrs::add_eval_command(app));
  add(adrs::add_leaderboard_command(app));
  add(adrs::add_workload_command(app));
  add(adrs::add_run_command(app));
  add(adrs::add_resume_command(app));
  add(adrs::add_status_command(app));
  add(adrs::add_best_command(app));
  add(adrs::add_show_command(app));
  add(adrs::add_lineage_command(app));
  add(adrs::add_replay_command(app));
  add(adrs::add_export_command(app));
  add(adrs::add_report_command(app));
  add(adrs::add_hint_command(app));
  add(adrs::add_init_command(app));
  return runners;
}

// A first argument that is neither a flag nor a command gets its own message (with the closest
// command and the list of all), rather than CLI11's generic one. Returns whether it printed one.
bool reject_unknown_command(const CLI::App& app, int argc, char** argv) {
  std::string names;
  std::vector<std::string> commands;
  bool known = false;
  for (const CLI::App* command : app.get_subcommands({})) {
    names += (names.empty() ? "" : ", ") + command->get_name();
    commands.push_back(command->get_name());
    known = known || (argc > 1 && command->check_name(argv[1]));
  }
  if (argc > 1 && argv[1][0] != '-' && !known) {
    std::fprintf(stderr, "adrs: unknown command '%s'%s; the commands are: %s (see adrs --help)\n", argv[1],
                 adrs::did_you_mean(argv[1], commands).c_str(), names.c_str());
    return true;
  }
  return false;
}

// Parses the command line; returns the exit code when parsing ends the program (help, version, a
// flag error), nothing when a command should run.
std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "adrs: %s%s\n", e.what(), adrs::suggest_flags(app, e.what()).c_str());
    std::fprintf(stderr, "run 'adrs --help' or 'adrs <command> --help' for usage\n");
    return 2;
  }
  return std::nullopt;
}

}  // namespace

int main(int argc, char** argv) {
  // API keys live in this process: forbid other processes (masker workers) to read its memory or
  // /proc/<pid>/environ.
  prctl(PR_SET_DUMPABLE, 0);

  CLI::App app{"adrs: evolve sparse-attention maskers with an LLM (or offline) and a trusted evaluator"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show help for every subcommand");
#ifndef ADRS_GIT_REVISION
#define ADRS_GIT_REVISION "unknown"
#endif
  app.set_version_flag("--version", std::string("adrs ") + adrs::kAdrsVersion + " (git " + ADRS_GIT_REVISION + ")",
                       "Print the version and the git revision it was built from");
  const std::map<CLI::App*, adrs::CommandRunner> runners = add_commands(app);
  if (reject_unknown_command(app, argc, argv)) return 2;
  if (std::optional<int> exit_code = parse_command_line(app, argc, argv)) return *exit_code;
  for (auto& [command, runner] : runners)
    if (command->parsed()) return runner();
  return 2;
}

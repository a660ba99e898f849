// adrs: AI-driven research for systems. Evolves sparse-attention maskers.
#include <sys/prctl.h>

#include <cstdio>
#include <map>

#include "driver/cli/commands.h"
#include "driver/llm/llm_proposer.h"
#include "driver/run/run_session.h"
#include "util/suggest.h"

namespace {

#ifndef ADRS_GIT_REVISION
#define ADRS_GIT_REVISION "unknown"
#endif

// Adds every command to `app`; the map says which runner a parsed subcommand calls.
std::map<CLI::App*, adrs::CommandRunner> add_commands(CLI::App& app) {
  std::map<CLI::App*, adrs::CommandRunner> runners;
  auto add = [&](adrs::CommandRunner runner) { runners[app.get_subcommands({}).back()] = std::move(runner); };
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

// An unknown command gets the likely meant one and the list, instead of CLI11's generic error.
bool is_unknown_command(CLI::App& app, int argc, char** argv) {
  if (argc < 2 || argv[1][0] == '-') return false;
  std::string names;
  std::vector<std::string> commands;
  for (const CLI::App* command : app.get_subcommands({})) {
    if (command->check_name(argv[1])) return false;
    names += (names.empty() ? "" : ", ") + command->get_name();
    commands.push_back(command->get_name());
  }
  std::fprintf(stderr, "adrs: unknown command '%s'%s; the commands are: %s (see adrs --help)\n", argv[1],
               adrs::did_you_mean(argv[1], commands).c_str(), names.c_str());
  return true;
}

// Parses the command line; returns the exit status when parsing ends the program (help, version,
// an error), else -1.
int parse_command_line(CLI::App& app, int argc, char** argv) {
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
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  // API keys live in this process: forbid other processes (masker workers) to read its memory or
  // /proc/<pid>/environ.
  prctl(PR_SET_DUMPABLE, 0);

  CLI::App app{"adrs: evolve sparse-attention maskers with an LLM (or offline) and a trusted evaluator"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show help for every subcommand");
  app.set_version_flag("--version", std::string("adrs ") + adrs::kAdrsVersion + " (git " + ADRS_GIT_REVISION + ")",
                       "Print the version and the git revision it was built from");
  // proposer = "llm": the LLM proposer built from the run config's [llm] table (driver/llm/llm_proposer.h).
  adrs::set_llm_proposer_factory([](const adrs::RunConfig& config, adrs::RunDb& db, std::unique_ptr<adrs::Proposer>* out) {
    return adrs::make_llm_proposer(config.llm, &db, out);
  });
  const std::map<CLI::App*, adrs::CommandRunner> runners = add_commands(app);
  if (is_unknown_command(app, argc, argv)) return 2;
  if (const int status = parse_command_line(app, argc, argv); status >= 0) return status;
  for (const auto& [command, runner] : runners)
    if (command->parsed()) return runner();
  return 2;
}

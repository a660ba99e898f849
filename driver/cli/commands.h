// Subcommands of the adrs CLI. Each registers its options on the app and runs when chosen; each
// returns the process exit status.
#pragma once

#include <functional>
#include <string>

#include <CLI/CLI.hpp>

#include "util/status.h"

namespace adrs {

using CommandRunner = std::function<int()>;

// The RUN argument of a command: a run folder or a bare name in runs/ (resolve_run_dir).
CLI::Option* add_run_argument(CLI::App* command, std::string* run_dir);

// For a parse error about unexpected arguments ("--max-candidate"): " did you mean --max-candidates?"
// naming the closest flags of the chosen command, or "".
std::string suggest_flags(const CLI::App& app, const std::string& error);

// Prints "adrs <command>: <message>" on standard error and returns the exit status for a command
// refused before it did anything: 3 when another process holds the run (StatusCode::kBusy), else 2
// (bad usage or input). Faults (exit 1) and interruptions (130) are reported where they happen.
int fail(const std::string& command, const Status& status);
int fail(const std::string& command, const std::string& message);  // bad usage or input: 2

// adrs eval FILE: compile and score one masker.
CommandRunner add_eval_command(CLI::App& app);

// adrs leaderboard: every baseline masker at several target densities.
CommandRunner add_leaderboard_command(CLI::App& app);

// adrs workload info NAME: shape, memory and attention statistics of a workload.
CommandRunner add_workload_command(CLI::App& app);

// The evolution driver (driver/cli/run_commands.cc, inspect_commands.cc, replay_command.cc).
CommandRunner add_run_command(CLI::App& app);
CommandRunner add_resume_command(CLI::App& app);
CommandRunner add_status_command(CLI::App& app);
CommandRunner add_best_command(CLI::App& app);
CommandRunner add_show_command(CLI::App& app);
CommandRunner add_lineage_command(CLI::App& app);
CommandRunner add_replay_command(CLI::App& app);
CommandRunner add_export_command(CLI::App& app);

// adrs report RUN: an HTML page of a run (driver/cli/report_command.cc).
CommandRunner add_report_command(CLI::App& app);

// adrs init DIR: a project folder with a run config, the starter masker and the prompts.
CommandRunner add_init_command(CLI::App& app);

// adrs hint RUN "text" | --clear: a note the following LLM prompts carry (driver/cli/hint_command.cc).
CommandRunner add_hint_command(CLI::App& app);

// adrs eval-task DIR: one evaluation task of the Slurm executor, run on a node (internal; not
// listed by --help, driver/cli/eval_task_command.cc).
CommandRunner add_eval_task_command(CLI::App& app);

}  // namespace adrs

// Subcommands of the adrs CLI. Each registers its options on the app and runs when chosen; each
// returns the process exit status.
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

namespace adrs {

using CommandRunner = std::function<int()>;

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

// adrs eval-task DIR: one evaluation task of the Slurm executor, run on a node (internal).
CommandRunner add_eval_task_command(CLI::App& app);

}  // namespace adrs

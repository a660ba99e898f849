// Subcommands of the adrs CLI. Each registers its options on the app and runs when chosen; each
// returns the process exit status.
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

namespace adrs {

using CommandRunner = std::function<int()>;

// adrs eval FILE: compile and score one masker.
CommandRunner add_eval_command(CLI::App& app);

}  // namespace adrs

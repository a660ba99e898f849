// Helpers shared by the tests: test maskers, evaluators on a private cache, running the CLI.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "evaluator/evaluator.h"

namespace adrs::test {

// Source of tests/maskers/NAME.cpp (or any path, when `name` contains a slash).
std::string masker_source(const std::string& name);
std::string read_file(const std::string& path);

// Options with the test binary's own compile cache.
EvalOptions test_options(const std::string& workload = "smoke");
std::unique_ptr<Evaluator> make_evaluator(const EvalOptions& options);

struct CommandOutput {
  int exit_code = -1;
  std::string out, err;
};
// Runs build/adrs with `args` (a shell-quoted string), capturing stdout and stderr.
CommandOutput run_adrs(const std::string& args);

// Runs `body` in a forked child (for limits or filters that must not touch the test process) and
// returns the text it produced; `exit_ok` says whether the child exited with 0.
std::string text_from_child(const std::function<std::string()>& body, bool* exit_ok = nullptr);

std::string binary_dir();
std::string source_dir();

}  // namespace adrs::test

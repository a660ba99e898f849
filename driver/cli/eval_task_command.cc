// adrs eval-task DIR: one evaluation of a Slurm executor's task (driver/run/executor.h), run on
// a compute node. Reads DIR/task.json, compiles and scores the masker with the trusted evaluator
// (the same sandbox as a local run), writes DIR/result.json atomically. Internal: `adrs run` with
// [executor] kind = "slurm" submits it; people do not call it.
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "driver/cli/commands.h"
#include "evaluator/eval_task.h"

namespace adrs {

namespace {

int run_eval_task(const std::string& dir) {
  std::string text;
  if (Status s = read_task_file(dir, "task.json", 64 << 20, &text); !s.ok()) {
    std::fprintf(stderr, "adrs eval-task: %s\n", s.message().c_str());
    return 1;
  }
  EvalTask task;
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (Status s = j.is_object() ? task_from_json(j, &task) : Status::Error("task.json is not JSON"); !s.ok()) {
    std::fprintf(stderr, "adrs eval-task: %s: %s\n", dir.c_str(), s.message().c_str());
    return 1;
  }
  EvalResult result;
  std::unique_ptr<Evaluator> evaluator;
  if (Status s = Evaluator::Create(task.options, &evaluator); !s.ok()) {
    result.status = EvalStatus::kInternalError;  // a fault of this node, not of the candidate
    result.message = "on host " + std::string(std::getenv("HOSTNAME") ? std::getenv("HOSTNAME") : "?") + ": " + s.message();
  } else {
    result = evaluator->evaluate_source(task.source);
  }
  if (Status s = write_task_file(dir, "result.json", task_result_to_json(task.nonce, result).dump()); !s.ok()) {
    std::fprintf(stderr, "adrs eval-task: %s\n", s.message().c_str());
    return 1;
  }
  return 0;
}

}  // namespace

CommandRunner add_eval_task_command(CLI::App& app) {
  auto dir = std::make_shared<std::string>();
  CLI::App* command = app.add_subcommand("eval-task", "One evaluation task of the Slurm executor (run on a node by adrs run)");
  command->group("");  // not listed in --help: adrs run submits it
  command->add_option("dir", *dir, "The task directory (task.json in, result.json out)")->required();
  return [dir] { return run_eval_task(*dir); };
}

}  // namespace adrs

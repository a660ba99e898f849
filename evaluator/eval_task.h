// One evaluation as a file-based task, for executors that run it on another node (Slurm): the
// driver writes task.json and masker.cpp into a task directory on a shared file system, a node
// runs `adrs eval-task DIR` (compile + sandboxed worker + scoring, the trusted evaluator side),
// which writes result.json there (atomically: a temporary file renamed), and the driver reads it
// back through parse_task_result before it stores anything.
//
// The driver trusts nothing in the result beyond what it checks: the file is opened without
// following links, at most kMaxTaskResultBytes long, a JSON object of the known schema (status
// one of the evaluator's names, finite numbers, bounded strings), and it must name the task
// (`task` equals the nonce the driver wrote), so a stale or foreign file is never taken.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "evaluator/evaluator.h"
#include "util/status.h"

namespace adrs {

inline constexpr size_t kMaxTaskResultBytes = 1 << 20;
inline constexpr size_t kMaxTaskCalls = 1 << 14;  // layer calls of one workload in a result

struct EvalTask {
  std::string nonce;     // random per submission; the result must echo it
  EvalOptions options;   // workload, density, seed, limits, device (cache_dir: the node's)
  std::string source;    // the masker (also in masker.cpp, for people reading the directory)
};

nlohmann::json task_to_json(const EvalTask& task);
Status task_from_json(const nlohmann::json& json, EvalTask* task);

// The result file's JSON for `result` of task `nonce`.
nlohmann::json task_result_to_json(const std::string& nonce, const EvalResult& result);

// Validates and converts a result file's text. Errors name what is wrong (for the retry record).
Status parse_task_result(const std::string& text, const std::string& nonce, EvalResult* out);

// Reads DIR/NAME without following a link (O_NOFOLLOW, a regular file, at most max_bytes).
Status read_task_file(const std::string& dir, const std::string& name, size_t max_bytes, std::string* text);

// Writes DIR/NAME through a temporary file and a rename, so a reader never sees half a file.
Status write_task_file(const std::string& dir, const std::string& name, const std::string& text);

}  // namespace adrs

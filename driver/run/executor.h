// Executor: where a candidate's evaluation (compile + sandboxed worker + scoring) runs.
//   local: in this process's evaluator (threads of `adrs run`), the default.
//   slurm: as a Slurm task on a node that sees the run directory (a shared file system): `srun`
//          inside an allocation, `sbatch` outside one. The task runs `adrs eval-task DIR`, which
//          writes DIR/result.json; the driver validates it (evaluator/eval_task.h) and stays the
//          only writer of the run database.
// A lost task (node failure, preemption, time limit, scancel, a result that fails validation) is
// retried up to `executor.max_retries` times, each loss recorded as an event with its reason;
// past that the evaluation is a harness fault (internal_error): the run stops, the candidate stays
// in flight, and resume tries again. Never a candidate's result.
// After kill -9 of the driver, resume finds each in-flight task by its directory: a result there
// (of the same task nonce) is adopted, a job still queued or running is waited for, and a job
// submitted but never recorded (killed between sbatch and the write) is found by name and
// cancelled before the task is submitted again.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "driver/run/run_config.h"
#include "driver/run/run_db.h"
#include "evaluator/evaluator.h"

namespace adrs {

class Executor {
 public:
  virtual ~Executor() = default;
  // Evaluates `source` with `evaluator`'s options for candidate `candidate_id`.
  virtual EvalResult evaluate(Evaluator& evaluator, const std::string& source, int64_t candidate_id,
                              const std::atomic<bool>* cancel) = 0;
  virtual std::string describe() const = 0;
};

// The executor named by config.executor ("local" or "slurm"); `db` receives lost-task events.
Status make_executor(const RunConfig& config, const std::string& run_dir, RunDb* db, std::unique_ptr<Executor>* out);

}  // namespace adrs

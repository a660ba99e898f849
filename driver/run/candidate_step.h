// One candidate's trip through the pipeline, from a "selected" or "proposed" row to a terminal one:
//   propose -> check (only the EVOLVE block changed) -> dedup -> [stage 1] -> evaluate per seed
// Each transition is one database transaction. Called from the loop's worker threads.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "driver/propose/proposer.h"
#include "driver/run/run_config.h"
#include "driver/run/run_db.h"
#include "evaluator/evaluator.h"

namespace adrs {

// The evaluators of a run: one per evaluation seed, plus the cascade's stage-1 evaluator.
class Executor;

struct RunEvaluators {
  std::vector<std::unique_ptr<Evaluator>> per_seed;
  std::unique_ptr<Evaluator> stage1;  // null without a cascade
  Executor* executor = nullptr;       // where evaluations run (driver/run/executor.h); null: here
  int devices() const { return per_seed.empty() ? 0 : per_seed[0]->gpu_count(); }
};

// Evaluation slots of the asynchronous schedule: at most `count` candidates compile and evaluate
// at once. Acquire gives up (false) when `cancel` is set.
class EvalSlots {
 public:
  explicit EvalSlots(int count) : free_(count) {}
  bool acquire(const std::atomic<bool>& cancel) {
    std::unique_lock lock(mutex_);
    while (free_ == 0) {
      if (cancel.load()) return false;
      cv_.wait_for(lock, std::chrono::milliseconds(50));
    }
    --free_;
    return true;
  }
  void release() {
    {
      std::lock_guard lock(mutex_);
      ++free_;
    }
    cv_.notify_one();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  int free_;
};
Status make_run_evaluators(const RunConfig& config, const std::string& cache_dir, RunEvaluators* out);

struct StepContext {
  const RunConfig* config = nullptr;
  RunDb* db = nullptr;
  Proposer* proposer = nullptr;
  Proposer* tuner = nullptr;  // the offline proposer, for tune_constants choices
  RunEvaluators* evaluators = nullptr;
  const std::atomic<bool>* cancel = nullptr;
  // Asynchronous schedule only (null otherwise): duplicates are decided under this lock against
  // every proposal stored so far (first come, first kept), and evaluations take a slot.
  std::mutex* dedup_mutex = nullptr;
  EvalSlots* eval_slots = nullptr;
  std::function<void()> proposal_done;  // called once the proposer has answered (or was not needed)
};

enum class StepOutcome {
  kDone,       // the row is terminal; *row holds it
  kAbandoned,  // cancelled: the row was left as it was, for resume to redo
  kFault,      // a fault of adrs (database write failed, internal evaluator error): stop the run
};

// Advances candidate `id` to a terminal state. On kFault, `fault` says what went wrong.
StepOutcome process_candidate(const StepContext& context, int64_t id, CandidateRow* row, Status* fault);

// Mean and standard deviation of metrics over seeds, folded into the row (status "evaluated").
void store_metrics(const std::vector<EvalResult>& results, const std::vector<uint64_t>& seeds, CandidateRow* row);

// The text outside the EVOLVE block must equal the parent's. Empty when it does; else why not.
std::string check_outside_block(const std::string& parent, const std::string& child);

}  // namespace adrs

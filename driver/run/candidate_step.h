// One candidate's trip through the pipeline, from a "selected" or "proposed" row to a terminal one:
//   propose -> check (only the EVOLVE block changed) -> dedup -> [stage 1] -> evaluate per seed
// Each transition is one database transaction. Called from the loop's worker threads.
#pragma once

#include <atomic>
#include <memory>
#include <vector>

#include "driver/propose/proposer.h"
#include "driver/run/run_config.h"
#include "driver/run/run_db.h"
#include "evaluator/evaluator.h"

namespace adrs {

// The evaluators of a run: one per evaluation seed, plus the cascade's stage-1 evaluator.
struct RunEvaluators {
  std::vector<std::unique_ptr<Evaluator>> per_seed;
  std::unique_ptr<Evaluator> stage1;  // null without a cascade
};
Status make_run_evaluators(const RunConfig& config, const std::string& cache_dir, RunEvaluators* out);

struct StepContext {
  const RunConfig* config = nullptr;
  RunDb* db = nullptr;
  Proposer* proposer = nullptr;
  Proposer* tuner = nullptr;  // the offline proposer, for tune_constants choices
  RunEvaluators* evaluators = nullptr;
  const std::atomic<bool>* cancel = nullptr;
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

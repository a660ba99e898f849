// One candidate's trip through the pipeline, from a "selected" or "proposed" row to a terminal one:
//   propose -> check (only the EVOLVE block changed) -> dedup by source -> [stage 1] ->
//   the suite's settings, cheapest first, per seed; the first evaluation's fingerprint (its
//   selections on the probe rows) decides whether it is a behavioral duplicate of an earlier id,
//   which is then not evaluated further.
// Each transition is one database transaction. Called from the loop's worker threads.
#pragma once

#include <atomic>
#include <memory>
#include <vector>

#include "driver/propose/proposer.h"
#include "driver/run/run_config.h"
#include "driver/run/run_db.h"
#include "driver/run/suite_eval.h"
#include "evaluator/evaluator.h"

namespace adrs {


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


// The text outside the EVOLVE block must equal the parent's. Empty when it does; else why not.
std::string check_outside_block(const std::string& parent, const std::string& child);

}  // namespace adrs

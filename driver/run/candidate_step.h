// One candidate's trip through the pipeline, from a "selected" or "proposed" row to a terminal one:
//   propose -> check (only the EVOLVE block changed) -> dedup by source -> [stage 1] ->
//   the suite's settings, cheapest first, per seed; the first evaluation's fingerprint (its
//   selections on the probe rows) decides whether it is a behavioral duplicate of an earlier id,
//   which is then not evaluated further.
// Each transition is one database transaction. Called from the loop's worker threads. Where an
// evaluation runs (here or as a Slurm task) is the executor's business (RunEvaluators::executor);
// which device scores it, the device pool's.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "driver/propose/proposer.h"
#include "driver/run/run_config.h"
#include "driver/run/eval_slots.h"
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
  // The asynchronous schedule (driver/run/run_loop.h) sets these three; the deterministic one
  // leaves them null.
  // Duplicates (by source and by behavior) are looked up among all other ids, the lookup and the
  // row's write under this lock, so the first stored is the original whatever the ids.
  std::mutex* dedup_mutex = nullptr;
  // Compile and evaluation wait for one of these slots (proposals have slots of their own).
  EvalSlots* eval_slots = nullptr;
  // Called once the proposal has ended (a proposer slot is free again).
  std::function<void()> proposal_done;
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

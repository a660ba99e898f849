// Replay: recompile a stored candidate from its source in a fresh compile cache and evaluate it
// again, on the run's own setting (where the result must reproduce exactly: anything else is a
// reproducibility bug) or another one (a held-out workload, another seed or density). The library
// half of `adrs replay`; the command prints what this returns.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>

#include "driver/run/run_config.h"
#include "driver/run/run_db.h"
#include "evaluator/evaluator.h"

namespace adrs {

// What to change from the run's setting (empty / negative / NaN: the run's own).
struct ReplaySetting {
  std::string workload;
  int64_t seed = -1;
  double target_density = NAN;
};

struct ReplayOutcome {
  CandidateRow stored;             // the candidate as the run stored it
  RunConfig run_config;            // the run's config
  RunConfig setting;               // the setting it was replayed on
  bool own_setting = false;        // the run's workload, seeds and density
  bool ok = false;                 // every evaluation seed evaluated
  EvalResult failed;               // the first failed evaluation (when !ok)
  CandidateRow replayed;           // the replay's metrics (when ok)
  bool comparable = false;         // own setting and a stored evaluated result
  bool identical = false;          // comparable and the same score, error and density
  std::string suggested_workload;  // a held-out preset to try next ("" when none)
};

// Errors: the run or the candidate cannot be read, the candidate has no source, the evaluators
// cannot start (a bad workload name, a full /tmp). A failing candidate is an outcome, not an error.
Status replay_candidate(const std::string& run_dir, int64_t id, const ReplaySetting& change, ReplayOutcome* out);

// A workload to suggest for held-out scoring: a preset named like `workload` with "heldout" in it,
// else another preset.
std::string held_out_suggestion(const std::string& workload);

}  // namespace adrs

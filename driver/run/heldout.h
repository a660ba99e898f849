// Held-out evaluation: when a run stops, its top K candidates (evaluation.heldout_top_k, best
// selection score first, behavioral and source duplicates skipped) are scored on the held-out
// settings (driver/run/suite.h), and so are the shipped baselines, for comparison. Each result
// carries a 95% bootstrap interval of the score over layer calls (evaluator/metrics.h; a fixed
// seed, so the same run reports the same interval).
//
// Held-out results never influence selection: they are computed after the loop, from seeds the
// search never saw. Every result is one transaction keyed by (candidate, setting), so a run killed
// during this phase finishes it on resume, computing only what is missing and never twice.
#pragma once

#include <atomic>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "driver/run/run_config.h"
#include "driver/run/run_db.h"

namespace adrs {

struct HeldoutOptions {
  std::string cache_dir;                  // the run's compile cache
  std::string baselines_dir;              // "" : the shipped baselines
  const std::atomic<bool>* cancel = nullptr;
  bool progress = false;                  // one line per evaluation on stderr
};

// The seeds of the run's held-out twins, drawing and storing those not stored yet (a run made
// before held-out settings existed). Keyed by workload.
Status heldout_seeds(RunDb& db, const RunConfig& config, std::map<std::string, uint64_t>* seeds);

// Scores what is missing. Ok when everything is stored (or there are no held-out settings); a
// fault of the harness or a cancel returns an error and leaves the rest for resume.
Status run_heldout(const RunConfig& config, RunDb& db, const HeldoutOptions& options);

// The held-out section of `status`, `best --heldout` and the end-of-run summary: per setting the
// best baseline; per top candidate its selection score beside its held-out scores and intervals.
// Null when the run has no held-out settings.
Status heldout_summary(const RunDb& db, const RunConfig& config, nlohmann::json* out);

// Human form of heldout_summary (a table per setting).
void print_heldout_summary(const nlohmann::json& heldout);

}  // namespace adrs

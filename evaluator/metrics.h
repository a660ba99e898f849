// Metrics: the contract numbers of one evaluation and the diagnostics that feed the prompts.
//   error   = mean over calls (layer, step) of ||O_true - O_sparse||_F / ||O_true||_F, taken
//             over all query heads of the call
//   density = mean over rows of distinct kept keys / n
//   penalty = 100 * max(0, density - target);  score = -(error + penalty)
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "evaluator/backend.h"
#include "evaluator/selections.h"
#include "evaluator/workload.h"

namespace adrs {

struct EntropyBucket {
  double low = 0.0, high = 0.0;  // normalized entropy range [low, high)
  int64_t rows = 0;
  double mean_error = 0.0;       // mean per-row relative error in the bucket
  double mean_density = 0.0;
};

struct Metrics {
  double score = 0.0;
  double error = 0.0;
  double density = 0.0;
  double penalty = 0.0;
  double target_density = 0.0;
  int64_t rows = 0;
  // Per-row relative error ||o_true - o_sparse|| / ||o_true||.
  double row_error_p50 = 0.0, row_error_p90 = 0.0, row_error_max = 0.0;
  std::vector<EntropyBucket> entropy_buckets;
  double attention_mass_kept = 0.0;  // mean over rows of true attention probability on kept keys
  double weight_mass = 0.0;          // mean over rows of (sum of weights) / n
  // Per layer call (layer, step), in call order: its relative error and its mean row density.
  // The bootstrap intervals of held-out reports resample these (not stored in metrics JSON).
  std::vector<double> call_errors, call_densities;
  // Blind track: mean over rows of key reads charged / n; the penalty then applies to
  // max(density, access_density / access_ratio). Unset on the oracle track.
  std::optional<double> access_density;
};

// A 95% percentile-bootstrap interval of the score over layer calls: `resamples` draws of the
// calls with replacement from a fixed seed (so a report is reproducible); each draw's score is
// -(mean error + 100 * max(0, mean density - target)). {score, score} when there is one call.
struct ScoreInterval {
  double low = 0.0, high = 0.0;
};
ScoreInterval bootstrap_score_interval(const Metrics& metrics, uint64_t seed = 20240229, int resamples = 1000);

// `selections` validated and canonical.
Metrics compute_metrics(const Workload& workload, const Reference& reference,
                        const Selections& selections, const RowErrors& errors, double target_density);

nlohmann::json metrics_to_json(const Metrics& metrics);

}  // namespace adrs

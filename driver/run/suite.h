// Suite: the settings a candidate is scored on, and the held-out settings it is reported on.
//
// A setting is (workload, target density, weight). A candidate's selection score is the
// weighted mean of its settings' scores, each with its own density penalty; its error and density
// are weighted means the same way. A run without a suite has the suite of one
// (evaluation.workload, evaluation.target_density, 1), so old configs and old run databases mean
// what they meant. Text form (the config key and flag): "default@0.02*1, default@0.1*2, tinylm@0.1"
// (density defaults to evaluation.target_density, weight to 1).
//
// Held-out settings never influence selection: a synthetic workload named there is a held-out
// twin, generated from a seed drawn when the run is created and kept in the run database (the
// search never sees those keys, queries or values); a trace ("tinylm", "longlm", a path) is used
// as it is.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "driver/run/run_config.h"
#include "util/status.h"

namespace adrs {

struct Setting {
  std::string workload;
  double target_density = 0.10;
  double weight = 1.0;
  // "default@0.1": how the database, JSON and tables name the setting.
  std::string key() const;
};

// Parses the text form; `default_density` fills a missing "@density". Errors name the entry.
Status parse_settings(const std::string& text, double default_density, std::vector<Setting>* out);

// The run's selection suite (the suite of one when evaluation.suite is empty) and its held-out
// settings (none when evaluation.heldout is empty). The config must have been validated.
std::vector<Setting> selection_suite(const RunConfig& config);
std::vector<Setting> heldout_settings(const RunConfig& config);

// Checks the suite, held-out and track keys of a config (called by RunConfig::validate).
Status check_suite_keys(const RunConfig& config);

// Whether `workload` names a synthetic preset (held-out: a twin with a drawn seed) or a trace.
bool is_synthetic_workload(const std::string& workload);

// Significance: `a` beats `b` only by more than the noise of the two (the root of the sum of their
// variances over evaluation seeds) and more than `margin` (evaluation.improvement_margin).
double noise_of(double a_std, double b_std);
bool significantly_better(double a, double a_std, double b, double b_std, double margin);

// Run state key holding {"<workload>": seed} for the held-out twins (one twin per workload).
inline constexpr const char* kHeldoutSeedsState = "heldout_seeds";
// Draws a fresh seed (from the OS) for every synthetic held-out setting.
std::map<std::string, uint64_t> draw_heldout_seeds(const std::vector<Setting>& heldout);

}  // namespace adrs

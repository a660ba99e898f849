// The evaluators of a run and how one candidate's results over a suite fold into its row.
//
// RunEvaluators holds one evaluator per (setting, evaluation seed), ordered cheapest setting
// first (rows x keys), so a candidate that fails or is a behavioral duplicate costs the least;
// plus the cascade's stage-1 evaluator. Every evaluator of a run draws its probe rows (the
// behavioral fingerprint) from the run seed.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "driver/run/run_config.h"
#include "driver/run/run_db.h"
#include "driver/run/suite.h"
#include "evaluator/evaluator.h"

namespace adrs {

struct SettingEvaluators {
  Setting setting;
  size_t suite_index = 0;  // position in selection_suite(config): the order results are shown in
  std::vector<std::unique_ptr<Evaluator>> per_seed;
};

struct RunEvaluators {
  std::vector<SettingEvaluators> settings;  // cheapest first
  std::unique_ptr<Evaluator> stage1;        // null without a cascade
  Evaluator& first() { return *settings.front().per_seed.front(); }
};

// The evaluator options every evaluation of a run shares (limits, device, track, probe seed).
EvalOptions run_eval_options(const RunConfig& config, const std::string& cache_dir);
Status make_run_evaluators(const RunConfig& config, const std::string& cache_dir, RunEvaluators* out);

// One setting's evaluations of one candidate (one result per seed, all ok).
struct SettingRun {
  Setting setting;
  std::vector<EvalResult> results;
  std::vector<uint64_t> seeds;
};

// Mean and standard deviation over seeds of one setting.
SettingResult fold_setting(const SettingRun& run, const std::string& track);

// Folds a suite's runs (in suite order) into the row (status "evaluated"): per-setting results,
// and the weighted means as the candidate's score, error, density (and access density); score_std
// is the standard deviation over seeds of the suite score.
void store_suite_metrics(const std::vector<SettingRun>& runs, const std::string& track, CandidateRow* row);

}  // namespace adrs

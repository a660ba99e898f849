#include "driver/run/suite_eval.h"

#include <algorithm>
#include <cmath>

#include "util/hash.h"

namespace adrs {

namespace {

Device device_of(const std::string& name) {
  return name == "cpu" ? Device::kCpu : name == "cuda" ? Device::kCuda : Device::kAuto;
}

// Work of one evaluation of a setting: rows times keys.
double setting_cost(const Evaluator& e) {
  const Workload& w = e.workload();
  double keys = 0;
  for (const CallInfo& c : w.calls) keys += static_cast<double>(c.num_keys) * w.num_q_heads;
  return keys;
}

double mean_std(const std::vector<double>& values, double* std_out) {
  double mean = 0;
  for (double v : values) mean += v / static_cast<double>(values.size());
  double var = 0;
  for (double v : values) var += (v - mean) * (v - mean);
  *std_out = std::sqrt(var / std::max(1.0, static_cast<double>(values.size()) - 1.0));
  return mean;
}

}  // namespace

EvalOptions run_eval_options(const RunConfig& config, const std::string& cache_dir) {
  EvalOptions base;
  base.workload = config.workload;
  base.target_density = config.target_density;
  base.timeout_s = config.timeout_s;
  base.compile_timeout_s = config.compile_timeout_s;
  base.threads = config.eval_threads;
  base.memory_mb = config.memory_mb;
  base.device = device_of(config.device);
  base.cache_dir = cache_dir;
  base.probe_seed = combine_seed(config.seed, 0x70726f6265ULL);  // "probe"
  base.track = config.track;
  base.access_ratio = config.access_ratio;
  return base;
}

Status make_run_evaluators(const RunConfig& config, const std::string& cache_dir, RunEvaluators* out) {
  const EvalOptions base = run_eval_options(config, cache_dir);
  const std::vector<Setting> suite = selection_suite(config);
  out->settings.clear();
  std::vector<double> cost;
  for (size_t i = 0; i < suite.size(); ++i) {
    SettingEvaluators setting{suite[i], i, {}};
    for (int s = 0; s < config.eval_seeds; ++s) {
      EvalOptions options = base;
      options.workload = suite[i].workload;
      options.target_density = suite[i].target_density;
      options.seed = config.eval_seed + static_cast<uint64_t>(s);
      std::unique_ptr<Evaluator> e;
      if (Status st = Evaluator::Create(options, &e); !st.ok())
        return suite.size() > 1 ? Status::Error("suite setting " + suite[i].key() + ": " + st.message()) : st;
      setting.per_seed.push_back(std::move(e));
    }
    cost.push_back(setting_cost(*setting.per_seed.front()));
    out->settings.push_back(std::move(setting));
  }
  std::vector<size_t> order(out->settings.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return cost[a] < cost[b]; });
  std::vector<SettingEvaluators> sorted;
  for (size_t i : order) sorted.push_back(std::move(out->settings[i]));
  out->settings = std::move(sorted);
  out->stage1.reset();
  if (config.cascade) {
    EvalOptions options = base;
    options.workload = config.cascade_workload;
    options.seed = config.eval_seed;
    if (Status st = Evaluator::Create(options, &out->stage1); !st.ok()) return Status::Error("cascade: " + st.message());
  }
  return Status::Ok();
}

SettingResult fold_setting(const SettingRun& run, const std::string& track) {
  SettingResult r;
  r.setting = run.setting.key();
  r.workload = run.setting.workload;
  r.target_density = run.setting.target_density;
  r.weight = run.setting.weight;
  r.track = track;
  std::vector<double> scores, errors, densities, access;
  for (const EvalResult& e : run.results) {
    scores.push_back(e.metrics.score);
    errors.push_back(e.metrics.error);
    densities.push_back(e.metrics.density);
    if (e.metrics.access_density) access.push_back(*e.metrics.access_density);
  }
  double ignored = 0;
  r.score = mean_std(scores, &r.score_std);
  r.error = mean_std(errors, &ignored);
  r.density = mean_std(densities, &ignored);
  if (access.size() == scores.size()) r.access_density = mean_std(access, &ignored);
  nlohmann::json j = metrics_to_json(run.results[0].metrics);
  j["per_seed"] = nlohmann::json::array();
  for (size_t i = 0; i < run.results.size(); ++i)
    j["per_seed"].push_back({{"seed", run.seeds[i]}, {"score", run.results[i].metrics.score},
                             {"error", run.results[i].metrics.error}, {"density", run.results[i].metrics.density}});
  r.metrics_json = j.dump();
  return r;
}

void store_suite_metrics(const std::vector<SettingRun>& runs, const std::string& track, CandidateRow* row) {
  double total_weight = 0;
  for (const SettingRun& run : runs) total_weight += run.setting.weight;
  row->settings.clear();
  double score = 0, error = 0, density = 0, access = 0;
  bool has_access = true;
  const size_t seeds = runs.front().results.size();
  std::vector<double> seed_scores(seeds, 0.0), seed_errors(seeds, 0.0), seed_densities(seeds, 0.0);
  for (const SettingRun& run : runs) {
    const double w = run.setting.weight / total_weight;
    SettingResult r = fold_setting(run, track);
    score += w * r.score;
    error += w * r.error;
    density += w * r.density;
    has_access = has_access && r.access_density.has_value();
    if (r.access_density) access += w * *r.access_density;
    for (size_t s = 0; s < seeds && s < run.results.size(); ++s) {
      seed_scores[s] += w * run.results[s].metrics.score;
      seed_errors[s] += w * run.results[s].metrics.error;
      seed_densities[s] += w * run.results[s].metrics.density;
    }
    row->settings.push_back(std::move(r));
  }
  double score_std = 0, error_std = 0;
  mean_std(seed_scores, &score_std);
  mean_std(seed_errors, &error_std);
  row->status = CandidateStatus::kEvaluated;
  row->failure.clear();
  row->score = score;
  row->error = error;
  row->density = density;
  row->score_std = score_std;
  row->error_std = error_std;
  row->access_density = has_access ? std::optional<double>(access) : std::nullopt;
  // The prompts and `show` read the diagnostics of the heaviest setting (the first on ties).
  size_t main = 0;
  for (size_t i = 1; i < runs.size(); ++i)
    if (runs[i].setting.weight > runs[main].setting.weight) main = i;
  nlohmann::json j = nlohmann::json::parse(row->settings[main].metrics_json);
  if (runs.size() > 1) {
    j["diagnostics_setting"] = row->settings[main].setting;
    j["settings"] = nlohmann::json::array();
    for (const SettingResult& r : row->settings)
      j["settings"].push_back({{"setting", r.setting}, {"weight", r.weight}, {"score", r.score}, {"error", r.error}, {"density", r.density}});
    for (size_t s = 0; s < seeds; ++s) j["per_seed"][s] = {{"seed", runs.front().seeds[s]}, {"score", seed_scores[s]}, {"error", seed_errors[s]}, {"density", seed_densities[s]}};
  }
  row->metrics_json = j.dump();
  row->compile_log = runs.front().results[0].compile_log;
}

}  // namespace adrs

#include "evaluator/metrics.h"

#include <algorithm>
#include <cmath>

#include "util/hash.h"

namespace adrs {

namespace {

double percentile(std::vector<double> values, double q) {
  if (values.empty()) return 0.0;
  std::sort(values.begin(), values.end());
  const double position = q * static_cast<double>(values.size() - 1);
  const size_t below = static_cast<size_t>(position);
  const size_t above = std::min(below + 1, values.size() - 1);
  return values[below] + (position - below) * (values[above] - values[below]);
}

}  // namespace

namespace {

// Per (layer, step): the Frobenius error over its query heads and their mean density. Returns the
// sum of the call errors.
double add_call_metrics(const Workload& w, const Reference& ref, const RowErrors& errors,
                        const std::vector<double>& row_density, Metrics* m) {
  double call_error_sum = 0.0;
  for (size_t c = 0; c < w.calls.size(); ++c) {
    double diff = 0.0, norm = 0.0;
    for (int64_t r = c * w.num_q_heads; r < static_cast<int64_t>(c + 1) * w.num_q_heads; ++r) {
      diff += errors.error_sq[r];
      norm += ref.output_norm_sq[r];
    }
    const double call_error = norm > 0 ? std::sqrt(diff / norm) : 0.0;
    double call_density = 0.0;
    for (int64_t r = c * w.num_q_heads; r < static_cast<int64_t>(c + 1) * w.num_q_heads; ++r) call_density += row_density[r];
    m->call_errors.push_back(call_error);
    m->call_densities.push_back(w.num_q_heads ? call_density / w.num_q_heads : 0.0);
    call_error_sum += call_error;
  }
  return call_error_sum;
}

// Mean error and density of the rows in five buckets of their true attention's entropy.
std::vector<EntropyBucket> entropy_buckets(const Reference& ref, const std::vector<double>& row_error,
                                           const std::vector<double>& row_density) {
  constexpr int kBuckets = 5;
  std::vector<EntropyBucket> buckets(kBuckets);
  for (int b = 0; b < kBuckets; ++b) {
    buckets[b].low = static_cast<double>(b) / kBuckets;
    buckets[b].high = static_cast<double>(b + 1) / kBuckets;
  }
  for (size_t r = 0; r < row_error.size(); ++r) {
    EntropyBucket& bucket = buckets[std::min(kBuckets - 1, static_cast<int>(ref.entropy[r] * kBuckets))];
    bucket.rows += 1;
    bucket.mean_error += row_error[r];
    bucket.mean_density += row_density[r];
  }
  for (EntropyBucket& bucket : buckets) {
    if (bucket.rows == 0) continue;
    bucket.mean_error /= static_cast<double>(bucket.rows);
    bucket.mean_density /= static_cast<double>(bucket.rows);
  }
  return buckets;
}

}  // namespace

Metrics compute_metrics(const Workload& w, const Reference& ref, const Selections& sel,
                        const RowErrors& errors, double target_density) {
  Metrics m;
  const int64_t rows = w.num_rows();
  m.rows = rows;
  m.target_density = target_density;

  std::vector<double> row_error(rows), row_density(rows);
  double density_sum = 0.0, kept_sum = 0.0, weight_sum = 0.0;
  for (int64_t r = 0; r < rows; ++r) {
    const double n = w.num_keys(r);
    row_density[r] = static_cast<double>(sel.offsets[r + 1] - sel.offsets[r]) / n;
    row_error[r] = ref.output_norm_sq[r] > 0 ? std::sqrt(errors.error_sq[r] / ref.output_norm_sq[r]) : 0.0;
    density_sum += row_density[r];
    kept_sum += errors.kept_mass[r];
    weight_sum += errors.weight_sum[r] / n;
  }
  const double call_error_sum = add_call_metrics(w, ref, errors, row_density, &m);
  m.error = w.calls.empty() ? 0.0 : call_error_sum / static_cast<double>(w.calls.size());
  m.density = rows ? density_sum / rows : 0.0;
  m.penalty = 100.0 * std::max(0.0, m.density - target_density);
  m.score = -(m.error + m.penalty);
  m.attention_mass_kept = rows ? kept_sum / rows : 0.0;
  m.weight_mass = rows ? weight_sum / rows : 0.0;
  m.row_error_p50 = percentile(row_error, 0.5);
  m.row_error_p90 = percentile(row_error, 0.9);
  m.row_error_max = rows ? *std::max_element(row_error.begin(), row_error.end()) : 0.0;
  m.entropy_buckets = entropy_buckets(ref, row_error, row_density);
  return m;
}

ScoreInterval bootstrap_score_interval(const Metrics& m, uint64_t seed, int resamples) {
  const size_t calls = m.call_errors.size();
  if (calls <= 1 || resamples < 2) return {m.score, m.score};
  std::vector<double> scores;
  scores.reserve(resamples);
  uint64_t state = seed;
  for (int b = 0; b < resamples; ++b) {
    double error = 0.0, density = 0.0;
    for (size_t i = 0; i < calls; ++i) {
      state = mix64(state);
      const size_t pick = static_cast<size_t>(state % calls);
      error += m.call_errors[pick];
      density += m.call_densities[pick];
    }
    error /= static_cast<double>(calls);
    density /= static_cast<double>(calls);
    scores.push_back(-(error + 100.0 * std::max(0.0, density - m.target_density)));
  }
  return {percentile(scores, 0.025), percentile(scores, 0.975)};
}

nlohmann::json metrics_to_json(const Metrics& m) {
  nlohmann::json buckets = nlohmann::json::array();
  for (const EntropyBucket& b : m.entropy_buckets)
    buckets.push_back({{"entropy_low", b.low}, {"entropy_high", b.high}, {"rows", b.rows},
                       {"mean_error", b.mean_error}, {"mean_density", b.mean_density}});
  nlohmann::json j = {{"score", m.score},
          {"error", m.error},
          {"density", m.density},
          {"penalty", m.penalty},
          {"target_density", m.target_density},
          {"rows", m.rows},
          {"row_error", {{"p50", m.row_error_p50}, {"p90", m.row_error_p90}, {"max", m.row_error_max}}},
          {"error_by_entropy", buckets},
          {"attention_mass_kept", m.attention_mass_kept},
          {"weight_mass", m.weight_mass}};
  if (m.access_density) j["access_density"] = *m.access_density;
  return j;
}

}  // namespace adrs

#include "evaluator/workload_stats.h"

#include <algorithm>
#include <cmath>

#include "util/parallel.h"

namespace adrs {

Spread spread_of(std::vector<double> values) {
  Spread s;
  if (values.empty()) return s;
  std::sort(values.begin(), values.end());
  auto at = [&](double q) { return values[static_cast<size_t>(q * (values.size() - 1) + 0.5)]; };
  double sum = 0.0;
  for (double v : values) sum += v;
  s.mean = sum / values.size();
  s.p10 = at(0.1);
  s.p50 = at(0.5);
  s.p90 = at(0.9);
  s.min = values.front();
  s.max = values.back();
  return s;
}

WorkloadStats compute_workload_stats(const Workload& w, const Reference& ref) {
  WorkloadStats st;
  st.rows = w.num_rows();
  st.min_keys = st.rows ? w.num_keys(0) : 0;
  st.max_keys = st.min_keys;
  for (int64_t r = 0; r < st.rows; ++r) {
    st.min_keys = std::min(st.min_keys, w.num_keys(r));
    st.max_keys = std::max(st.max_keys, w.num_keys(r));
  }
  st.memory_bytes = 4.0 * (2.0 * static_cast<double>(w.kv_floats()) + static_cast<double>(w.query_floats()));
  std::vector<double> first(st.rows), sink(st.rows), local(st.rows), top(st.rows);
  parallel_for(st.rows, 0, [&](int64_t r) {
    const int32_t n = w.num_keys(r);
    const float* s = &ref.scores[ref.score_offsets[r]];
    std::vector<double> p(n);
    for (int32_t i = 0; i < n; ++i) p[i] = std::exp(s[i] - ref.log_normalizer[r]);
    first[r] = p[0];  // before nth_element reorders p
    double sink_sum = 0.0, local_sum = 0.0;
    for (int32_t i = 0; i < std::min(n, kStatsSinkKeys); ++i) sink_sum += p[i];
    for (int32_t i = std::max(0, n - kStatsLocalKeys); i < n; ++i) local_sum += p[i];
    const int32_t k = std::max(1, n / 10);
    std::nth_element(p.begin(), p.begin() + (k - 1), p.end(), std::greater<double>());
    double top_sum = 0.0;
    for (int32_t i = 0; i < k; ++i) top_sum += p[i];
    sink[r] = sink_sum;
    local[r] = local_sum;
    top[r] = top_sum;
  });
  st.entropy = spread_of(ref.entropy);
  st.first_key_mass = spread_of(first);
  std::vector<double> rows_of_layer(w.layers.size(), 0.0);
  st.first_key_mass_by_layer.assign(w.layers.size(), 0.0);
  for (int64_t r = 0; r < st.rows; ++r) {
    const int32_t layer = w.calls[w.row_info(r).call].layer;
    st.first_key_mass_by_layer[layer] += first[r];
    rows_of_layer[layer] += 1.0;
  }
  for (size_t l = 0; l < rows_of_layer.size(); ++l)
    if (rows_of_layer[l] > 0) st.first_key_mass_by_layer[l] /= rows_of_layer[l];
  st.sink_mass = spread_of(sink);
  st.local_mass = spread_of(local);
  st.top10_mass = spread_of(top);
  return st;
}

nlohmann::json stats_to_json(const Workload& w, const WorkloadStats& st) {
  auto spread = [](const Spread& s) {
    return nlohmann::json{{"mean", s.mean}, {"p10", s.p10}, {"p50", s.p50}, {"p90", s.p90}, {"min", s.min}, {"max", s.max}};
  };
  return {{"workload", w.name},
          {"rows", st.rows},
          {"layers", w.layers.size()},
          {"calls", w.calls.size()},
          {"q_heads", w.num_q_heads},
          {"kv_heads", w.num_kv_heads},
          {"head_dim", w.head_dim},
          {"min_keys", st.min_keys},
          {"max_keys", st.max_keys},
          {"memory_bytes", static_cast<int64_t>(st.memory_bytes)},
          {"scale", w.scale},
          {"sink_keys", kStatsSinkKeys},
          {"local_keys", kStatsLocalKeys},
          {"entropy", spread(st.entropy)},
          {"first_key_mass", spread(st.first_key_mass)},
          {"first_key_mass_by_layer", st.first_key_mass_by_layer},
          {"sink_mass", spread(st.sink_mass)},
          {"local_mass", spread(st.local_mass)},
          {"top10_mass", spread(st.top10_mass)}};
}

}  // namespace adrs

// Baseline: vAttention with a per-row sample-or-top-k rule (this project's variant, not the paper's
// method: vattention.cpp is the paper's rule). Needs exact scores (oracle) for every key.
// Sinks and a local window (clamp(budget / 16, 1, 128) each), oracle top-k of
// k0 = 0.5 * target * n, then uniform sampling of the residual keys with an adaptive sample size: a
// base sample of n_b = max(2, 0.25 * target * n) uniform draws from the residual after the top-k0
// estimates the std sigma of e = exp(s - max s) over that residual and the denominator D_hat; then
// b = (z * sigma * n_s0 / (eps * D_hat))^2 with z = Phi^-1(1 - delta), eps = 0.075, delta = 0.05,
// clamped to [n_b, slots left]. The slots the sampler does not need go to more top-k (k = left - b
// top keys in all); then b fresh uniform draws (with replacement) from the final residual of n_s
// keys, each with weight n_s / b. Budget: floor(target * n) distinct keys.
//
// One per-row decision on top of the paper: sample or not. Sampling only pays where its error is
// smaller than what the same slots as extra top-k would leave, so the row compares the expected
// squared output error of the two choices and takes the smaller:
//   sample:   (n_s^2 / b) * (m2 + c * var)      top-k only:   Q' + c * E'^2
// m2 = mean of e^2 and var = variance of e over the final residual (the middle keys after the k
// top keys, which the b draws sample);
// E' and Q' = sum of e and of e^2 over the keys that top-k of all the slots would still drop;
// c = sum_i p_i^2 over the row (p = e / sum e). All from the exact scores the masker already reads
// to rank its top-k (the base sample only sizes b, as in the paper: estimated from a few draws, the
// moments of a heavy-tailed residual come out too small and the row samples where it should not;
// docs/WORKLOADS.md has the measurement). The model behind the two errors: the masker cannot see
// the values, so take them independent of the scores with a common spread. The error of the ratio
// estimate then has two parts: the values' own noise, weighted by e per key (m2 for the draws,
// Q' for the dropped keys), and the miss of the denominator times the distance between the output
// and the mean value (var for the draws, E'^2 for the dropped keys), whose expected square is c
// times the values' spread (the output averages the values with the weights p). No constant is
// fitted. When it samples it is exactly the sampler above; otherwise the row is sinks + local +
// top-k of all its slots.
#include "masker_api.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

namespace {

constexpr double kEps = 0.075, kZ = 1.6448536269514722;  // z = Phi^-1(1 - 0.05)

// The oracle logits scale * <q, k_i>: the run's exact scores, or computed when it hides them.
std::vector<float> logits(const adrs::Row& row) {
  const int n = row.num_keys;
  std::vector<float> s(n);
  for (int i = 0; i < n; ++i) {
    if (row.scores) {
      s[i] = row.scores[i];
    } else {
      double dot = 0.0;
      for (int j = 0; j < row.head_dim; ++j) dot += double(row.query[j]) * row.keys[size_t(i) * row.head_dim + j];
      s[i] = float(row.scale * dot);
    }
  }
  return s;
}

// The keys [begin, end), highest score first (ties: lower index first).
std::vector<int> by_score(const std::vector<float>& s, int begin, int end) {
  std::vector<int> middle(end - begin);
  std::iota(middle.begin(), middle.end(), begin);
  std::sort(middle.begin(), middle.end(), [&](int a, int b) { return s[a] > s[b] || (s[a] == s[b] && a < b); });
  return middle;
}

// The denominator of the keys kept so far (sinks, local, top-k0), exact; e is the middle keys' exp(s - top) by rank.
double kept_denominator(const std::vector<float>& s, double top, int sink, int local, const std::vector<double>& e, int k0) {
  const int n = static_cast<int>(s.size());
  double fixed = 0.0;
  for (int i = 0; i < sink; ++i) fixed += std::exp(s[i] - top);
  for (int i = std::max(sink, n - local); i < n; ++i) fixed += std::exp(s[i] - top);
  for (int t = 0; t < k0; ++t) fixed += e[t];
  return fixed;
}

// The paper's sample size b: a base sample from the residual after the top-k0 estimates sigma and
// D_hat; b = (z * sigma * n_s0 / (eps * D_hat))^2, clamped to [n_b, slots left].
int sample_size(const adrs::Row& row, const std::vector<double>& e, int k0, int left, double fixed, std::mt19937_64& rng) {
  const int n = row.num_keys, m = static_cast<int>(e.size());
  const int n_s0 = m - k0;
  const int n_b = std::min({left - k0, n_s0, std::max(2, static_cast<int>(0.25 * row.target_density * n))});
  std::uniform_int_distribution<int> pick0(k0, m - 1);
  double sum = 0.0, sum_sq = 0.0;
  for (int draw = 0; draw < n_b; ++draw) {
    const int t = pick0(rng);
    sum += e[t];
    sum_sq += e[t] * e[t];
  }
  const double mean = sum / n_b;
  const double sigma = std::sqrt(std::max(0.0, sum_sq / n_b - mean * mean));
  const double d_hat = fixed + n_s0 * mean;
  const double wanted = std::pow(kZ * sigma * n_s0 / (kEps * d_hat), 2.0);
  return static_cast<int>(std::clamp(std::ceil(wanted), double(n_b), double(std::min(n_s0, left - k0))));
}

// The decision: expected squared error (in units of the values' spread / D^2) of b uniform draws
// of [k, m) against top-k of all `left` slots, which drops [left, m). True when sampling is smaller.
bool sampling_beats_top_k(const std::vector<float>& s, double top, const std::vector<double>& e, double fixed, int k0,
                          int k, int left, int b) {
  const int n = static_cast<int>(s.size()), m = static_cast<int>(e.size()), n_s = m - k;
  double row_sum = fixed, row_sq = 0.0;  // sum e and sum e^2 over the whole row
  for (int t = k0; t < m; ++t) row_sum += e[t];
  for (int i = 0; i < n; ++i) row_sq += std::exp(2.0 * (s[i] - top));
  const double c = row_sq / (row_sum * row_sum);
  double r1 = 0.0, r2 = 0.0;  // mean e and mean e^2 over the final residual [k, m)
  for (int t = k; t < m; ++t) {
    r1 += e[t];
    r2 += e[t] * e[t];
  }
  r1 /= n_s;
  r2 /= n_s;
  const double var = std::max(0.0, r2 - r1 * r1);
  const double sample_err = double(n_s) * n_s / b * (r2 + c * var);
  double dropped = 0.0, dropped_sq = 0.0;
  for (int t = left; t < m; ++t) {
    dropped += e[t];
    dropped_sq += e[t] * e[t];
  }
  const double topk_err = dropped_sq + c * dropped * dropped;
  return sample_err < topk_err;
}

}  // namespace

void select(const adrs::Row& row, adrs::Selection& out) {
  const int n = row.num_keys;
  const int budget = static_cast<int>(row.target_density * n);
  if (budget < 1) return;
  const std::vector<float> s = logits(row);
  const double top = *std::max_element(s.begin(), s.end());
  const int edge = std::clamp(budget / 16, 1, 128);
  const int sink = std::min(edge, budget), local = std::min(edge, budget - sink);
  for (int i = 0; i < sink; ++i) out.add(i);
  for (int i = std::max(sink, n - local); i < n; ++i) out.add(i);
  const std::vector<int> middle = by_score(s, sink, std::max(sink, n - local));
  const int left = budget - sink - local;  // for top-k and sampling together
  const int m = static_cast<int>(middle.size());
  auto keep_top = [&](int count) {
    for (int t = 0; t < std::min(count, m); ++t) out.add(middle[t]);
  };
  const int k0 = std::min({static_cast<int>(0.5 * row.target_density * n), left, m});
  if (left - k0 < 1 || m - k0 < 1) return keep_top(left);
  std::vector<double> e(m);
  for (int t = 0; t < m; ++t) e[t] = std::exp(s[middle[t]] - top);
  const double fixed = kept_denominator(s, top, sink, local, e, k0);
  std::mt19937_64 rng(row.seed);
  const int b = sample_size(row, e, k0, left, fixed, rng);
  const int k = std::min(left - b, m);  // top keys when it samples; the final residual is [k, m)
  const int n_s = m - k;
  if (n_s < 1) return keep_top(left);
  if (!sampling_beats_top_k(s, top, e, fixed, k0, k, left, b)) return keep_top(left);

  keep_top(k);
  std::uniform_int_distribution<int> pick(k, m - 1);
  for (int t = 0; t < b; ++t) out.add(middle[pick(rng)], static_cast<double>(n_s) / b);
}

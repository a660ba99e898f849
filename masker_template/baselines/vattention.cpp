// Baseline: vAttention-style. Sinks and a local window (clamp(budget / 16, 1, 128) each), oracle
// top-k of 0.5 * target * n, then uniform sampling of the residual keys with an adaptive sample size:
// a base sample of n_b = max(2, 0.25 * target * n) draws estimates the std sigma of exp(s) over the
// residual and the denominator D_hat; b = (z * sigma * n_s / (eps * D_hat))^2 with z = Phi^-1(1 -
// delta), eps = 0.075, delta = 0.05, clamped to [n_b, min(n_s, budget left)]. Unlike the paper, the
// budget the sampler does not need goes to more top-k keys. Then b fresh draws (with replacement)
// from the final residual of n_s keys, each with weight n_s / b. Budget: floor(target * n) keys.
#include "masker_api.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

void select(const adrs::Row& row, adrs::Selection& out) {
  constexpr double kEps = 0.075, kZ = 1.6448536269514722;  // z = Phi^-1(1 - 0.05)
  const int n = row.num_keys;
  const int budget = static_cast<int>(row.target_density * n);
  if (budget < 1) return;
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
  const double top = *std::max_element(s.begin(), s.end());
  const int edge = std::clamp(budget / 16, 1, 128);
  const int sink = std::min(edge, budget), local = std::min(edge, budget - sink);
  double fixed_sum = 0.0;
  auto keep = [&](int i) {
    fixed_sum += std::exp(s[i] - top);
    out.add(i);
  };
  for (int i = 0; i < sink; ++i) keep(i);
  for (int i = std::max(sink, n - local); i < n; ++i) keep(i);
  const int begin = sink, end = std::max(sink, n - local);
  std::vector<int> middle(end - begin);
  std::iota(middle.begin(), middle.end(), begin);
  std::sort(middle.begin(), middle.end(), [&](int a, int b) { return s[a] > s[b] || (s[a] == s[b] && a < b); });
  const int left = budget - sink - local;  // for top-k and sampling together
  const int m = static_cast<int>(middle.size());
  const int k0 = std::min({static_cast<int>(0.5 * row.target_density * n), left, m});
  if (left - k0 < 1 || m - k0 < 1) {
    for (int t = 0; t < std::min(left, m); ++t) keep(middle[t]);
    return;
  }
  // Base sample from the residual after the first k0 top keys: estimates sigma and D_hat.
  std::mt19937_64 rng(row.seed);
  double fixed_top = fixed_sum;
  for (int t = 0; t < k0; ++t) fixed_top += std::exp(s[middle[t]] - top);
  const int n_s0 = m - k0;
  const int n_b = std::min({left - k0, n_s0, std::max(2, static_cast<int>(0.25 * row.target_density * n))});
  std::uniform_int_distribution<int> pick0(k0, m - 1);
  double sum = 0.0, sum_sq = 0.0;
  for (int t = 0; t < n_b; ++t) {
    const double x = std::exp(s[middle[pick0(rng)]] - top);
    sum += x;
    sum_sq += x * x;
  }
  const double mean = sum / n_b;
  const double sigma = std::sqrt(std::max(0.0, sum_sq / n_b - mean * mean));
  const double d_hat = fixed_top + n_s0 * mean;
  const double wanted = std::pow(kZ * sigma * n_s0 / (kEps * d_hat), 2.0);
  const int b = static_cast<int>(std::clamp(std::ceil(wanted), double(n_b), double(std::min(n_s0, left - k0))));
  // Budget the sampler does not need goes to top-k; then b fresh draws from the final residual.
  const int k = std::min(left - b, m);
  for (int t = 0; t < k; ++t) keep(middle[t]);
  const int n_s = m - k;
  if (n_s < 1) return;
  std::uniform_int_distribution<int> pick(k, m - 1);
  for (int t = 0; t < b; ++t) out.add(middle[pick(rng)], static_cast<double>(n_s) / b);
}

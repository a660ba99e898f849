// Baseline: vAttention as its paper defines it (Desai et al., 2025, "vAttention: Verified Sparse
// Attention", arXiv:2510.05688): sinks + local window + oracle top-k, and uniform sampling of the
// residual with a sample size chosen so the softmax denominator is within relative error eps with
// probability 1 - delta. Needs exact scores (oracle) for the top-k keys and the sampled keys only;
// here it reads row.scores (or computes the logits when the run hides them).
//
// The paper's split at 10% density on 32k contexts (128 sinks, 128 local, top-k 0.05 of n, base
// rate 0.025 of n, eps 0.075, delta 0.05), derived from the target so it scales with any budget
// B = floor(target * n): sink = local = clamp(B / 16, 1, 128); top-k k0 = 0.5 * target * n;
// base sample n_b = max(2, 0.25 * target * n) uniform draws from the residual (the keys not kept),
// which estimate the std sigma of exp(s - max s) over the residual and the denominator D_hat; then
// b = (Phi^-1(1 - delta) * sigma * n_s / (eps * D_hat))^2, clamped to [n_b, slots left].
// To spend (not exceed) the budget, slots the sampler does not need go to more top-k (this
// project's choice, so that every baseline is compared at the same density), and the b keys are drawn without
// replacement from the final residual of n_s keys, each with weight n_s / b (inclusion
// probability b / n_s: the Horvitz-Thompson weight, unbiased for numerator and denominator).
#include "masker_api.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <unordered_set>
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

// The paper's sample size b: a base sample of n_b uniform draws from the residual after the top-k0
// (middle[k0, m)) estimates sigma and D_hat; b = (z * sigma * n_s0 / (eps * D_hat))^2, clamped to
// [n_b, left - k0]. `fixed` is the exact denominator of the keys kept so far.
int sample_size(const adrs::Row& row, const std::vector<float>& s, double top, const std::vector<int>& middle, int k0,
                int left, double fixed, std::mt19937_64& rng) {
  const int n = row.num_keys, m = static_cast<int>(middle.size());
  const int n_s0 = m - k0;
  const int n_b = std::min({left - k0, n_s0, std::max(2, static_cast<int>(0.25 * row.target_density * n))});
  std::uniform_int_distribution<int> pick0(k0, m - 1);
  double sum = 0.0, sum_sq = 0.0;
  for (int draw = 0; draw < n_b; ++draw) {
    const double e = std::exp(s[middle[pick0(rng)]] - top);
    sum += e;
    sum_sq += e * e;
  }
  const double mean = sum / n_b;
  const double sigma = std::sqrt(std::max(0.0, sum_sq / n_b - mean * mean));
  const double d_hat = fixed + n_s0 * mean;
  const double wanted = std::pow(kZ * sigma * n_s0 / (kEps * d_hat), 2.0);
  return static_cast<int>(std::clamp(std::ceil(wanted), double(n_b), double(left - k0)));
}

}  // namespace

void select(const adrs::Row& row, adrs::Selection& out) {
  const int n = row.num_keys;
  const int budget = std::min(n, static_cast<int>(row.target_density * n));
  if (budget < 1) return;
  const std::vector<float> s = logits(row);
  const double top = *std::max_element(s.begin(), s.end());
  const int edge = std::clamp(budget / 16, 1, 128);
  const int sink = std::min(edge, budget), local = std::min(edge, budget - sink);
  for (int i = 0; i < sink; ++i) out.add(i);
  for (int i = std::max(sink, n - local); i < n; ++i) out.add(i);
  const int begin = sink, end = std::max(sink, n - local);
  std::vector<int> middle(end - begin);
  std::iota(middle.begin(), middle.end(), begin);
  std::sort(middle.begin(), middle.end(), [&](int a, int b) { return s[a] > s[b] || (s[a] == s[b] && a < b); });
  const int m = static_cast<int>(middle.size());
  const int left = std::min(budget - sink - local, m);  // for top-k and sampling together
  auto keep_top = [&](int count) {
    for (int t = 0; t < count; ++t) out.add(middle[t]);
  };
  const int k0 = std::min(static_cast<int>(0.5 * row.target_density * n), left);
  if (left - k0 < 1 || m - k0 < 1) return keep_top(left);
  double fixed = 0.0;  // the denominator of the keys kept so far (sinks, local, top-k0), exact
  for (int i = 0; i < sink; ++i) fixed += std::exp(s[i] - top);
  for (int i = std::max(sink, n - local); i < n; ++i) fixed += std::exp(s[i] - top);
  for (int t = 0; t < k0; ++t) fixed += std::exp(s[middle[t]] - top);
  // Base sample from the residual after the top-k0: sigma and D_hat, as the paper estimates them.
  std::mt19937_64 rng(row.seed);
  const int b = sample_size(row, s, top, middle, k0, left, fixed, rng);
  const int k = left - b;  // top keys; the final residual is [k, m)
  const int n_s = m - k;
  keep_top(k);
  // b distinct draws from [k, m) (Floyd's algorithm), weight n_s / b each.
  std::unordered_set<int> drawn;
  for (int j = n_s - b; j < n_s; ++j) {
    const int t = std::uniform_int_distribution<int>(0, j)(rng);
    const int chosen = drawn.count(t) ? j : t;
    drawn.insert(chosen);
    out.add(middle[k + chosen], static_cast<double>(n_s) / b);
  }
}

// Baseline: oracle importance sampling (an upper line of the sampling family, not vAttention). Sinks
// and a local window (clamp(budget / 16, 1, 128) each) with weight 1; the other left = budget - sink
// - local slots go to the middle keys by threshold sampling on the exact scores: key i is kept with
// probability pi_i = min(1, e_i / tau), e_i = exp(s_i - max s), where tau solves sum_i pi_i = left.
// The keys with pi_i = 1 (e_i >= tau) are the row's top-k, kept deterministically with weight 1;
// how many there are (k) follows from the row's scores. The rest are sampled by systematic sampling
// in key order (one uniform offset from row.seed), which draws left - k distinct keys (up to
// rounding) with these inclusion probabilities, each with the Horvitz-Thompson weight
// 1 / pi_i = tau / e_i >= 1, so the numerator and denominator stay unbiased. Budget:
// floor(target * n) distinct keys.
//
// With inclusion probabilities proportional to e_i every sampled key contributes exactly tau to the
// denominator, so the denominator estimate is exact; the error left is the values' spread, which
// this choice of pi minimizes (sum_i e_i^2 (1 / pi_i - 1) is smallest for pi_i = min(1, e_i / tau)
// under sum pi_i = left, for values of equal spread). It needs the exact score of every residual
// key, which vAttention's uniform sampler does not (vattention.cpp is that method); see
// docs/WORKLOADS.md, "Baselines and the leaderboard".
#include "masker_api.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

namespace {

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

// The threshold tau with sum_t min(1, e[t] / tau) = left over e (sorted, largest first), and in *k
// how many keys have pi = 1.
double threshold(const std::vector<double>& e, int left, int* k) {
  const int m = static_cast<int>(e.size());
  // suffix[t] = e[t] + ... + e[m - 1]. The threshold: the first k with e[k] <= suffix[k] / (left - k);
  // then every key before k has e >= tau (so pi = 1) and the rest pi = e / tau with sum left - k.
  std::vector<double> suffix(m + 1, 0.0);
  for (int t = m - 1; t >= 0; --t) suffix[t] = suffix[t + 1] + e[t];
  *k = 0;
  while (*k < left - 1 && e[*k] * (left - *k) > suffix[*k]) ++*k;
  return suffix[*k] / (left - *k);
}

// Systematic sampling of the residual in key order: points u, u + 1, ..., u + b - 1 on the
// cumulative inclusion probabilities; pi <= 1, so each key holds at most one point.
void systematic_sample(const adrs::Row& row, const std::vector<float>& s, double top, double tau,
                       std::vector<int> residual, int b, adrs::Selection& out) {
  std::sort(residual.begin(), residual.end());
  std::mt19937_64 rng(row.seed);
  double point = std::uniform_real_distribution<double>(0.0, 1.0)(rng);
  double cumulative = 0.0;
  int drawn = 0;
  for (int i : residual) {
    if (drawn == b) break;
    const double pi = std::min(1.0, std::exp(s[i] - top) / tau);
    cumulative += pi;
    if (point < cumulative) {
      out.add(i, std::max(1.0, 1.0 / pi));
      ++drawn;
      point += 1.0;
    }
  }
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
  const int begin = sink, end = std::max(sink, n - local);
  const int left = budget - sink - local;
  const int m = end - begin;
  if (left < 1 || m < 1) return;
  std::vector<int> middle(m);
  std::iota(middle.begin(), middle.end(), begin);
  if (left >= m) {
    for (int i : middle) out.add(i);
    return;
  }
  std::sort(middle.begin(), middle.end(), [&](int a, int b) { return s[a] > s[b] || (s[a] == s[b] && a < b); });
  std::vector<double> e(m);
  for (int t = 0; t < m; ++t) e[t] = std::exp(s[middle[t]] - top);
  int k = 0;
  const double tau = threshold(e, left, &k);
  if (!(tau > 0.0) || !std::isfinite(tau)) {  // the residual has no mass left in double: keep top keys
    for (int t = 0; t < left; ++t) out.add(middle[t]);
    return;
  }
  for (int t = 0; t < k; ++t) out.add(middle[t]);
  systematic_sample(row, s, top, tau, std::vector<int>(middle.begin() + k, middle.end()), left - k, out);
}

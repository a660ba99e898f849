// Baseline: MagicPIG (Chen et al., ICLR 2025, "MagicPIG: LSH Sampling for Efficient LLM
// Generation", arXiv:2410.16179). Keys are sampled by SimHash locality-sensitive hashing: with L
// tables of K sign bits each, key i collides with the query in at least one table with probability
// u_i = 1 - (1 - p_i^K)^L, p_i = 1 - theta_i / pi (theta_i: the angle between query and key), and
// a sampled key carries the importance weight 1 / u_i, so numerator and denominator stay unbiased.
// Like the paper it keeps a few sink keys (4) and a local window (clamp(budget / 16, 1, 64)) exactly.
// K = 10 as in the paper; L is solved per row so the expected sample spends the rest of the budget
// floor(target * n), and the sample is drawn by systematic sampling with these inclusion
// probabilities (exactly that many distinct keys, each still with probability u_i).
// Needs exact angles: this simulation computes u_i from <q, k_i> (what the paper's hash tables
// realize without computing it), so it reads every key in full; treat it as oracle.
#include "masker_api.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

void select(const adrs::Row& row, adrs::Selection& out) {
  constexpr int kBits = 10;
  const int n = row.num_keys, d = row.head_dim;
  const int budget = std::min(n, static_cast<int>(row.target_density * n));
  if (budget < 1) return;
  const int sink = std::min({4, budget, std::max(1, budget / 8)});
  const int local = std::min(std::clamp(budget / 16, 1, 64), budget - sink);
  for (int i = 0; i < sink; ++i) out.add(i);
  for (int i = std::max(sink, n - local); i < n; ++i) out.add(i);
  const int begin = sink, end = std::max(sink, n - local);
  const int left = std::min(budget - sink - local, end - begin);
  if (left < 1) return;
  double q_norm = 0.0;
  for (int j = 0; j < d; ++j) q_norm += double(row.query[j]) * row.query[j];
  q_norm = std::sqrt(q_norm);
  std::vector<double> miss(end - begin);  // log(1 - p_i^K): one table misses key i
  for (int i = begin; i < end; ++i) {
    const float* k = row.keys + size_t(i) * d;
    double dot = 0.0, k_norm = 0.0;
    for (int j = 0; j < d; ++j) {
      dot += double(row.query[j]) * k[j];
      k_norm += double(k[j]) * k[j];
    }
    const double cosine = q_norm > 0.0 && k_norm > 0.0 ? std::clamp(dot / (q_norm * std::sqrt(k_norm)), -1.0, 1.0) : 0.0;
    miss[i - begin] = std::log1p(-std::min(std::pow(1.0 - std::acos(cosine) / 3.141592653589793, kBits), 1.0 - 1e-16));
  }
  auto expected = [&](double tables, std::vector<double>* u) {
    double sum = 0.0;
    for (size_t t = 0; t < miss.size(); ++t) {
      const double v = -std::expm1(tables * miss[t]);
      if (u) (*u)[t] = v;
      sum += v;
    }
    return sum;
  };
  // L by bisection (as a real number) so the expected sample size is `left`.
  double lo = 0.0, hi = 1.0;
  while (expected(hi, nullptr) < left && hi < 1e300) hi *= 2.0;
  for (int it = 0; it < 60; ++it) {
    const double mid = 0.5 * (lo + hi);
    (expected(mid, nullptr) < left ? lo : hi) = mid;
  }
  std::vector<double> u(miss.size());
  const double total = expected(hi, &u);
  // Systematic sampling: inclusion probability left * u_i / total (= u_i up to the bisection's rounding).
  std::mt19937_64 rng(row.seed);
  double next = std::uniform_real_distribution<double>(0.0, 1.0)(rng), cumulative = 0.0;
  int taken = 0;
  for (size_t t = 0; t < u.size() && taken < left; ++t) {
    const double pi = std::min(1.0, left * u[t] / total);
    cumulative += pi;
    if (pi > 0.0 && cumulative > next) {
      out.add(begin + static_cast<int>(t), 1.0 / pi);
      next += 1.0;
      ++taken;
    }
  }
}

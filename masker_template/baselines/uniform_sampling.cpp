// Baseline: uniform random sampling (the sampling half of vAttention, Desai et al. 2025, without
// its top-k). b = floor(target * n) distinct keys drawn uniformly without replacement (Floyd's
// algorithm) from all n keys, each with weight n / b: the inclusion probability of every key is
// b / n, so numerator and denominator are unbiased (Horvitz-Thompson), and the sample spends the
// budget exactly. No scores needed.
#include "masker_api.h"

#include <algorithm>
#include <random>
#include <unordered_set>

void select(const adrs::Row& row, adrs::Selection& out) {
  const int n = row.num_keys;
  const int b = std::min(n, static_cast<int>(row.target_density * n));
  if (b < 1) return;
  std::mt19937_64 rng(row.seed);
  std::unordered_set<int> drawn;
  for (int j = n - b; j < n; ++j) {
    const int t = std::uniform_int_distribution<int>(0, j)(rng);
    const int chosen = drawn.count(t) ? j : t;
    drawn.insert(chosen);
    out.add(chosen, static_cast<double>(n) / b);
  }
}

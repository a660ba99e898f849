// Baseline: uniform random sampling. b = floor(target * n) draws with replacement from all n keys,
// each with weight n / b, so numerator and denominator are unbiased. Keeps at most b distinct keys.
#include "masker_api.h"

#include <random>

void select(const adrs::Row& row, adrs::Selection& out) {
  const int n = row.num_keys;
  const int b = static_cast<int>(row.target_density * n);
  if (b < 1) return;
  std::mt19937_64 rng(row.seed);
  std::uniform_int_distribution<int> pick(0, n - 1);
  for (int t = 0; t < b; ++t) out.add(pick(rng), static_cast<double>(n) / b);
}

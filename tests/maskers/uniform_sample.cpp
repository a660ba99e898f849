// Uniform sampling with replacement: b = max(1, target_density * n) draws, each with weight n / b.
#include <algorithm>
#include <random>
#include "masker_api.h"
void select(const adrs::Row& row, adrs::Selection& out) {
  const int n = row.num_keys;
  const int b = std::max(1, static_cast<int>(row.target_density * n));
  std::mt19937_64 rng(row.seed);
  std::uniform_int_distribution<int> pick(0, n - 1);
  for (int t = 0; t < b; ++t) out.add(pick(rng), static_cast<double>(n) / b);
}

// Baseline: attention sinks plus a sliding window (the starter, with its split derived from the
// target): the first floor(0.45 * target * n) keys and the newest floor(0.45 * target * n) keys,
// weight 1. At target 0.10 this is exactly masker_template/evolve_masker.cpp.
#include "masker_api.h"

#include <algorithm>

void select(const adrs::Row& row, adrs::Selection& out) {
  const int n = row.num_keys;
  const int each = std::max(1, static_cast<int>(0.45 * row.target_density * n));
  const int budget = static_cast<int>(row.target_density * n);
  const int sink = std::min(each, budget / 2 + budget % 2), window = std::min(each, budget - sink);
  for (int i = 0; i < std::min(sink, n); ++i) out.add(i);
  for (int i = std::max(sink, n - window); i < n; ++i) out.add(i);
}

// Baseline: attention sinks plus a sliding window (StreamingLLM: Xiao et al., ICLR 2024, "Efficient
// Streaming Language Models with Attention Sinks"), spending the whole budget floor(target * n):
// the first ceil(budget / 2) keys and the newest floor(budget / 2), weight 1. No scores needed.
// (The starter masker_template/evolve_masker.cpp is the same rule at 0.45 + 0.45 of the budget.)
#include "masker_api.h"

#include <algorithm>

void select(const adrs::Row& row, adrs::Selection& out) {
  const int n = row.num_keys;
  const int budget = std::min(n, static_cast<int>(row.target_density * n));
  const int sink = budget / 2 + budget % 2, window = budget - sink;
  for (int i = 0; i < std::min(sink, n); ++i) out.add(i);
  for (int i = std::max(sink, n - window); i < n; ++i) out.add(i);
}

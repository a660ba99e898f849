// The starter masker: attention sinks plus a sliding window.
// Keeps the first max(1, floor(0.045 n)) keys and the last max(1, floor(0.045 n)) keys, weight 1.
#include "masker_api.h"

#include <algorithm>

// EVOLVE-BLOCK-START
void select(const adrs::Row& row, adrs::Selection& out) {
  const int n = row.num_keys;
  const int sink = std::max(1, static_cast<int>(0.045 * n));
  const int window = std::max(1, static_cast<int>(0.045 * n));
  for (int i = 0; i < std::min(sink, n); ++i) out.add(i);
  for (int i = std::max(sink, n - window); i < n; ++i) out.add(i);
}
// EVOLVE-BLOCK-END

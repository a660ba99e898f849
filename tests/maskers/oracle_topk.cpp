// Oracle top-k baseline: keeps the k = floor(target_density * n) keys with the largest exact
// scores, weight 1. Research-only (it reads every score); the reference the offline search must
// reach (issue 5's acceptance experiment).
#include "masker_api.h"

#include <algorithm>
#include <numeric>
#include <vector>

// EVOLVE-BLOCK-START
void select(const adrs::Row& row, adrs::Selection& out) {
  const int n = row.num_keys;
  const int k = std::max(1, static_cast<int>(row.target_density * n));
  std::vector<int> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::nth_element(order.begin(), order.begin() + (k - 1), order.end(),
                   [&](int a, int b) { return row.scores[a] > row.scores[b]; });
  for (int i = 0; i < k; ++i) out.add(order[i]);
}
// EVOLVE-BLOCK-END

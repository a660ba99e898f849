// Baseline: oracle top-k, pure: the floor(target * n) keys with the highest exact logits, nothing
// reserved for sinks or a window, weight 1. Needs exact scores (oracle): it reads row.scores, or
// computes every logit from the query and keys when the run hides them. The reference point of
// the sparse-attention literature (e.g. the sparse-attention-hub leaderboard's "oracle top-k":
// 7.7% error at 10% density on Llama-3.1-8B, RULER-32K); sink_local_topk.cpp is the variant that
// reserves a share of the budget for sinks and a local window.
#include "masker_api.h"

#include <algorithm>
#include <numeric>
#include <vector>

void select(const adrs::Row& row, adrs::Selection& out) {
  const int n = row.num_keys;
  const int budget = std::min(n, static_cast<int>(row.target_density * n));
  if (budget < 1) return;
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
  std::vector<int> order(n);
  std::iota(order.begin(), order.end(), 0);
  // Ties broken by position so the selection does not depend on the library's nth_element.
  std::nth_element(order.begin(), order.begin() + (budget - 1), order.end(),
                   [&](int a, int b) { return s[a] > s[b] || (s[a] == s[b] && a < b); });
  for (int t = 0; t < budget; ++t) out.add(order[t]);
}

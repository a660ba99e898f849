// Baseline: oracle top-p (the sparse-attention-hub leaderboard's "oracle top-p": 7.5% error at 10%
// density on Llama-3.1-8B, RULER-32K; top-p over attention probabilities as in Twilight, Lin et
// al. 2025, "Twilight: Adaptive Attention Sparsity with Hierarchical Top-p Pruning"). Needs exact
// scores (oracle). Keeps keys in decreasing exact probability until they hold a share p of the
// attention, capped at the budget floor(target * n), with p = 1 - 1e-9: at a per-row budget a
// top-p that fills its budget is top-k, so the only keys it saves are those that together hold
// less than 1e-9 of the row's mass (an error contribution of that order). The published top-p
// moves budget between rows at one average density, which a per-row masker cannot (it sees one
// row); see docs/WORKLOADS.md. Weight 1.
#include "masker_api.h"

#include <algorithm>
#include <cmath>
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
  const float top = *std::max_element(s.begin(), s.end());
  double total = 0.0;
  for (float x : s) total += std::exp(double(x) - top);
  std::vector<int> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::partial_sort(order.begin(), order.begin() + budget, order.end(),
                    [&](int a, int b) { return s[a] > s[b] || (s[a] == s[b] && a < b); });
  const double p = 1.0 - 1e-9;
  double mass = 0.0;
  for (int t = 0; t < budget && mass < p * total; ++t) {
    out.add(order[t]);
    mass += std::exp(double(s[order[t]]) - top);
  }
}

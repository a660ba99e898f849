// Baseline: oracle top-p. Keeps keys in decreasing exact probability until they hold p of the
// attention, with p = 1 - target / 20 (0.995 at target 0.10), never more than floor(target * n) keys.
// Peaked rows stop early (spending less than the budget); flat rows stop at the budget. Weight 1.
#include "masker_api.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

void select(const adrs::Row& row, adrs::Selection& out) {
  const int n = row.num_keys;
  const int budget = static_cast<int>(row.target_density * n);
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
  std::partial_sort(order.begin(), order.begin() + budget, order.end(), [&](int a, int b) { return s[a] > s[b]; });
  const double p = 1.0 - 0.05 * row.target_density;
  double mass = 0.0;
  for (int t = 0; t < budget && mass < p * total; ++t) {
    out.add(order[t]);
    mass += std::exp(double(s[order[t]]) - top);
  }
}

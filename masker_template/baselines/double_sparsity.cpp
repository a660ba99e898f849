// Baseline: Double Sparsity (Yang et al., 2024, "Post-Training Sparse Attention with Double
// Sparsity", arXiv:2408.07092). Token sparsity from channel sparsity: approximate logits from r of
// the d channels, then the floor(target * n) keys with the highest approximate logits, weight 1.
// The paper picks r = d / 8 "outlier" channels per head offline from calibration data (the largest
// mean |q_j * k_j|); with no calibration set, this picks them per row from the row's own keys: the
// channels with the largest |q_j| * mean_i |k_ij|. Does not read the exact scores (no oracle): it
// touches r of d channels of every key, then exact logits are never needed.
#include "masker_api.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

void select(const adrs::Row& row, adrs::Selection& out) {
  const int n = row.num_keys, d = row.head_dim;
  const int budget = std::min(n, static_cast<int>(row.target_density * n));
  if (budget < 1) return;
  const int r = std::max(1, d / 8);
  std::vector<double> channel(d, 0.0);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < d; ++j) channel[j] += std::fabs(row.keys[size_t(i) * d + j]);
  for (int j = 0; j < d; ++j) channel[j] *= std::fabs(row.query[j]);
  std::vector<int> dims(d);
  std::iota(dims.begin(), dims.end(), 0);
  std::partial_sort(dims.begin(), dims.begin() + r, dims.end(),
                    [&](int a, int b) { return channel[a] > channel[b] || (channel[a] == channel[b] && a < b); });
  std::vector<float> approx(n);
  for (int i = 0; i < n; ++i) {
    double dot = 0.0;
    for (int t = 0; t < r; ++t) dot += double(row.query[dims[t]]) * row.keys[size_t(i) * d + dims[t]];
    approx[i] = float(dot);
  }
  std::vector<int> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::nth_element(order.begin(), order.begin() + (budget - 1), order.end(),
                   [&](int a, int b) { return approx[a] > approx[b] || (approx[a] == approx[b] && a < b); });
  for (int t = 0; t < budget; ++t) out.add(order[t]);
}

// Baseline: oracle top-k with reserved sinks and a local window (the StreamingLLM sink + window of
// Xiao et al., ICLR 2024, "Efficient Streaming Language Models with Attention Sinks", plus oracle
// top-k of the rest). Of the budget floor(target * n) keys, sink = local = clamp(budget / 8, 1, 128)
// go to the first and newest keys, the rest to the keys with the highest exact logits among the
// others. Needs exact scores (oracle): reads row.scores, or computes them from the query and keys
// when the run hides them. Weight 1 everywhere. oracle_topk.cpp is the pure top-k.
#include "masker_api.h"

#include <algorithm>
#include <numeric>
#include <vector>

namespace {

std::vector<float> logits(const adrs::Row& row) {
  if (row.scores) return std::vector<float>(row.scores, row.scores + row.num_keys);
  std::vector<float> s(row.num_keys);
  for (int i = 0; i < row.num_keys; ++i) {
    double dot = 0.0;
    for (int j = 0; j < row.head_dim; ++j) dot += double(row.query[j]) * row.keys[size_t(i) * row.head_dim + j];
    s[i] = float(row.scale * dot);
  }
  return s;
}

}  // namespace

void select(const adrs::Row& row, adrs::Selection& out) {
  const int n = row.num_keys;
  const int budget = static_cast<int>(row.target_density * n);
  if (budget < 1) return;
  const int edge = std::clamp(budget / 8, 1, 128);
  const int sink = std::min(edge, budget), local = std::min(edge, budget - sink);
  for (int i = 0; i < sink; ++i) out.add(i);
  for (int i = std::max(sink, n - local); i < n; ++i) out.add(i);
  const int begin = sink, end = std::max(sink, n - local);
  const int k = std::min(budget - sink - local, end - begin);
  if (k <= 0) return;
  const std::vector<float> s = logits(row);
  std::vector<int> middle(end - begin);
  std::iota(middle.begin(), middle.end(), begin);
  std::nth_element(middle.begin(), middle.begin() + (k - 1), middle.end(), [&](int a, int b) { return s[a] > s[b]; });
  for (int t = 0; t < k; ++t) out.add(middle[t]);
}

// Test parent for the patch corpus: sinks, a local window and top-k by oracle score.
#include "masker_api.h"

#include <algorithm>
#include <numeric>
#include <vector>

// EVOLVE-BLOCK-START
namespace {
constexpr double kSinkFraction = 0.02;
constexpr double kWindowFraction = 0.02;
constexpr double kTopkFraction = 0.05;
}  // namespace

void select(const adrs::Row& row, adrs::Selection& out) {
  const int n = row.num_keys;
  const int sink = std::max(1, static_cast<int>(kSinkFraction * n));
  const int window = std::max(1, static_cast<int>(kWindowFraction * n));
  std::vector<char> kept(n, 0);
  for (int i = 0; i < std::min(sink, n); ++i) {
    kept[i] = 1;
    out.add(i);
  }
  for (int i = std::max(0, n - window); i < n; ++i) {
    if (kept[i]) continue;
    kept[i] = 1;
    out.add(i);
  }
  if (row.scores == nullptr) return;
  std::vector<int> order(n);
  std::iota(order.begin(), order.end(), 0);
  const int k = std::min(n, static_cast<int>(kTopkFraction * n));
  std::partial_sort(order.begin(), order.begin() + k, order.end(),
                    [&](int a, int b) { return row.scores[a] > row.scores[b]; });
  for (int j = 0; j < k; ++j) {
    if (kept[order[j]]) continue;
    kept[order[j]] = 1;
    out.add(order[j]);
  }
}
// EVOLVE-BLOCK-END

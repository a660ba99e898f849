// Baseline: Quest (Tang et al., ICML 2024, "Quest: Query-Aware Sparsity for Efficient Long-Context
// LLM Inference"; no oracle scores). Keys form pages of 16 (fewer, clamp(budget / 4, 1, 16), when the
// budget is tiny); a page's score sum_d max(q_d * min_d, q_d * max_d) bounds the logit of every key
// in it. The first page (sinks) and the newest page are always kept, then the pages with the
// highest bounds while whole pages fit in floor(target * n); the slots left (fewer than a page) go
// to the first keys of the best page not yet kept, so the budget is spent. Weight 1.
#include "masker_api.h"

#include <algorithm>
#include <numeric>
#include <vector>

void select(const adrs::Row& row, adrs::Selection& out) {
  const int n = row.num_keys, d = row.head_dim;
  const int budget = static_cast<int>(row.target_density * n);
  if (budget < 1) return;
  const int kPage = std::clamp(budget / 4, 1, 16);  // 16 as in Quest; smaller when the budget is tiny
  const int pages = (n + kPage - 1) / kPage;
  auto page_size = [&](int p) { return std::min(kPage, n - p * kPage); };
  std::vector<char> keep(pages, 0);
  int used = 0;
  auto take = [&](int p) {
    if (!keep[p] && used + page_size(p) <= budget) {
      keep[p] = 1;
      used += page_size(p);
    }
  };
  take(0);
  take(pages - 1);
  std::vector<double> bound(pages, 0.0);
  std::vector<float> lo(d), hi(d);
  for (int p = 0; p < pages; ++p) {
    const float* k = row.keys + size_t(p) * kPage * d;
    std::copy(k, k + d, lo.begin());
    std::copy(k, k + d, hi.begin());
    for (int i = 1; i < page_size(p); ++i)
      for (int j = 0; j < d; ++j) {
        lo[j] = std::min(lo[j], k[size_t(i) * d + j]);
        hi[j] = std::max(hi[j], k[size_t(i) * d + j]);
      }
    for (int j = 0; j < d; ++j) bound[p] += std::max(double(row.query[j]) * lo[j], double(row.query[j]) * hi[j]);
  }
  std::vector<int> order(pages);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int a, int b) { return bound[a] > bound[b]; });
  for (int p : order) take(p);
  for (int p = 0; p < pages; ++p)
    if (keep[p])
      for (int i = 0; i < page_size(p); ++i) out.add(p * kPage + i);
  for (int p : order) {
    if (keep[p]) continue;
    for (int i = 0; i < std::min(page_size(p), budget - used); ++i) out.add(p * kPage + i);
    break;
  }
}

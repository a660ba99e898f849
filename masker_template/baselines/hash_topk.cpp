// Baseline: hash-based top-k (HashAttention / MagicPig family; no oracle scores). Query and keys
// are hashed to 32 bits by the signs of 32 Gaussian random projections (fixed per layer and kv
// head). Matching bits m estimate the angle, pi * (1 - m / 32), so |k| * cos(angle) ranks the keys.
// Same split as oracle_topk: sinks and a local window of clamp(budget / 8, 1, 128) each, the rest
// by the hash estimate. Weight 1.
#include "masker_api.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <vector>

namespace {

constexpr int kBits = 32;

uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Rademacher-free Gaussian projections from a counter hash (Box-Muller), fixed per (layer, kv head).
std::vector<float> projections(const adrs::Row& row) {
  std::vector<float> r(size_t(kBits) * row.head_dim);
  for (size_t i = 0; i < r.size(); ++i) {
    const uint64_t h = mix(mix(uint64_t(row.layer) << 32 | uint32_t(row.kv_head)) ^ i);
    const double u1 = (double(h >> 40) + 0.5) * 0x1p-24, u2 = (double((h >> 16) & 0xffffff) + 0.5) * 0x1p-24;
    r[i] = float(std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2));
  }
  return r;
}

uint32_t code(const float* x, const std::vector<float>& r, int d) {
  uint32_t bits = 0;
  for (int m = 0; m < kBits; ++m) {
    float dot = 0.0f;
    for (int j = 0; j < d; ++j) dot += r[size_t(m) * d + j] * x[j];
    bits |= uint32_t(dot >= 0.0f) << m;
  }
  return bits;
}

}  // namespace

void select(const adrs::Row& row, adrs::Selection& out) {
  const int n = row.num_keys, d = row.head_dim;
  const int budget = static_cast<int>(row.target_density * n);
  if (budget < 1) return;
  const int edge = std::clamp(budget / 8, 1, 128);
  const int sink = std::min(edge, budget), local = std::min(edge, budget - sink);
  for (int i = 0; i < sink; ++i) out.add(i);
  for (int i = std::max(sink, n - local); i < n; ++i) out.add(i);
  const int begin = sink, end = std::max(sink, n - local);
  const int k = std::min(budget - sink - local, end - begin);
  if (k <= 0) return;
  const std::vector<float> r = projections(row);
  const uint32_t q = code(row.query, r, d);
  std::vector<float> estimate(n, 0.0f);
  for (int i = begin; i < end; ++i) {
    const float* key = row.keys + size_t(i) * d;
    float norm_sq = 0.0f;
    for (int j = 0; j < d; ++j) norm_sq += key[j] * key[j];
    const int matches = kBits - __builtin_popcount(q ^ code(key, r, d));
    estimate[i] = std::sqrt(norm_sq) * float(std::cos(3.141592653589793 * (1.0 - double(matches) / kBits)));
  }
  std::vector<int> middle(end - begin);
  std::iota(middle.begin(), middle.end(), begin);
  std::nth_element(middle.begin(), middle.begin() + (k - 1), middle.end(),
                   [&](int a, int b) { return estimate[a] > estimate[b]; });
  for (int t = 0; t < k; ++t) out.add(middle[t]);
}

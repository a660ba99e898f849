// Baseline: PQCache (Zhang et al., SIGMOD 2025, "PQCache: Product Quantization-based KVCache for
// Long Context LLM Inference", arXiv:2407.12820). Keys are product-quantized: d is split into
// m = d / 16 sub-spaces, each with 16 centroids (k-means, 4 Lloyd iterations from evenly spaced
// keys, trained on up to 1024 evenly spaced keys of the row; the paper trains them once per layer
// and head, which gives the same codes). The query scores every key against its centroids, sum over
// sub-spaces of <q_m, c_m[code_m(i)]>, and the keys with the highest approximate scores fill the
// budget floor(target * n) after a few sink keys (4) and a local window (clamp(budget / 16, 1, 64)),
// which PQCache also keeps. Weight 1. Does not read the exact scores (no oracle).
#include "masker_api.h"

#include <algorithm>
#include <numeric>
#include <vector>

namespace {

constexpr int kSub = 16, kCentroids = 16, kIterations = 4, kTrain = 1024;

// The centroid (of a sub-space `w` wide; centroid c at centroid[c * d]) nearest to x.
int nearest(const float* x, const std::vector<float>& centroid, int d, int w) {
  int best = 0;
  double best_dist = 1e300;
  for (int c = 0; c < kCentroids; ++c) {
    double dist = 0.0;
    for (int j = 0; j < w; ++j) {
      const double diff = double(x[j]) - centroid[size_t(c) * d + j];
      dist += diff * diff;
    }
    if (dist < best_dist) best_dist = dist, best = c;
  }
  return best;
}

// k-means over the training keys of the sub-space [lo, lo + w): kIterations Lloyd iterations from
// evenly spaced training keys. Writes centroid c to centroid[c * d, c * d + w).
void train_centroids(const adrs::Row& row, const std::vector<int>& train, int lo, int w, std::vector<float>& centroid) {
  const int d = row.head_dim;
  auto key = [&](int i) { return row.keys + size_t(i) * d + lo; };
  for (int c = 0; c < kCentroids; ++c) {
    const float* start = key(train[size_t(c) * train.size() / kCentroids]);
    std::copy(start, start + w, centroid.begin() + size_t(c) * d);
  }
  for (int it = 0; it < kIterations; ++it) {
    std::vector<double> sum(size_t(kCentroids) * w, 0.0);
    std::vector<int> members(kCentroids, 0);
    for (int i : train) {
      const int c = nearest(key(i), centroid, d, w);
      ++members[c];
      for (int j = 0; j < w; ++j) sum[size_t(c) * w + j] += key(i)[j];
    }
    for (int c = 0; c < kCentroids; ++c)
      if (members[c] > 0)
        for (int j = 0; j < w; ++j) centroid[size_t(c) * d + j] = float(sum[size_t(c) * w + j] / members[c]);
  }
}

// Approximate scores of the keys [begin, end): sum over sub-spaces of <q_m, c_m[code_m(i)]>.
std::vector<double> approximate_scores(const adrs::Row& row, int begin, int end) {
  const int n = row.num_keys, d = row.head_dim;
  const int subs = std::max(1, d / kSub);
  std::vector<int> train;
  const int count = std::min(n, kTrain);
  for (int t = 0; t < count; ++t) train.push_back(static_cast<int>(int64_t(t) * n / count));
  std::vector<double> approx(n, 0.0);
  std::vector<float> centroid(size_t(kCentroids) * d);
  for (int m = 0; m < subs; ++m) {
    const int lo = m * d / subs, hi = (m + 1) * d / subs, w = hi - lo;
    train_centroids(row, train, lo, w, centroid);
    std::vector<double> q_dot(kCentroids, 0.0);
    for (int c = 0; c < kCentroids; ++c)
      for (int j = 0; j < w; ++j) q_dot[c] += double(row.query[lo + j]) * centroid[size_t(c) * d + j];
    for (int i = begin; i < end; ++i) approx[i] += q_dot[nearest(row.keys + size_t(i) * d + lo, centroid, d, w)];
  }
  return approx;
}

}  // namespace

void select(const adrs::Row& row, adrs::Selection& out) {
  const int n = row.num_keys;
  const int budget = std::min(n, static_cast<int>(row.target_density * n));
  if (budget < 1) return;
  const int sink = std::min({4, budget, std::max(1, budget / 8)});
  const int local = std::min(std::clamp(budget / 16, 1, 64), budget - sink);
  for (int i = 0; i < sink; ++i) out.add(i);
  for (int i = std::max(sink, n - local); i < n; ++i) out.add(i);
  const int begin = sink, end = std::max(sink, n - local);
  const int k = std::min(budget - sink - local, end - begin);
  if (k < 1) return;
  const std::vector<double> approx = approximate_scores(row, begin, end);
  std::vector<int> middle(end - begin);
  std::iota(middle.begin(), middle.end(), begin);
  std::nth_element(middle.begin(), middle.begin() + (k - 1), middle.end(),
                   [&](int a, int b) { return approx[a] > approx[b] || (approx[a] == approx[b] && a < b); });
  for (int t = 0; t < k; ++t) out.add(middle[t]);
}

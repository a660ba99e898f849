#include "evaluator/selections.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <numeric>
#include <set>
#include <utility>

#include <fmt/format.h>

#include "util/hash.h"

#include "util/parallel.h"

namespace adrs {

void Selections::append_row(const int32_t* row_indices, const double* row_weights, int64_t count) {
  indices.insert(indices.end(), row_indices, row_indices + count);
  weights.insert(weights.end(), row_weights, row_weights + count);
  offsets.push_back(static_cast<int64_t>(indices.size()));
}

int64_t max_entries_per_row(int32_t num_keys) { return 16 * int64_t{num_keys} + 4096; }

std::string describe_row(const Workload& workload, int64_t row) {
  const RowInfo info = workload.row_info(row);
  const CallInfo& call = workload.calls[info.call];
  return "row " + std::to_string(row) + " (layer " + std::to_string(call.layer) + ", step " +
         std::to_string(call.step) + ", head " + std::to_string(info.head) + ")";
}

Status validate_selections(const Workload& workload, const Selections& s) {
  if (s.num_rows() != workload.num_rows())
    return Status::Error("the masker returned " + std::to_string(s.num_rows()) + " rows; the workload has " +
                         std::to_string(workload.num_rows()));
  for (int64_t r = 0; r < s.num_rows(); ++r) {
    const int32_t n = workload.num_keys(r);
    const int64_t count = s.offsets[r + 1] - s.offsets[r];
    if (count > max_entries_per_row(n))
      return Status::Error(describe_row(workload, r) + ": " + std::to_string(count) +
                           " entries added; at most " + std::to_string(max_entries_per_row(n)) +
                           " are accepted (merge repeated draws of a key into one weight)");
    for (int64_t e = s.offsets[r]; e < s.offsets[r + 1]; ++e) {
      const int32_t index = s.indices[e];
      const double weight = s.weights[e];
      if (index < 0 || index >= n)
        return Status::Error(describe_row(workload, r) + ": index " + std::to_string(index) +
                             " is out of range [0, " + std::to_string(n) + ")");
      if (!std::isfinite(weight) || weight < 1.0)
        return Status::Error(describe_row(workload, r) + ": key " + std::to_string(index) + " has weight " +
                             fmt::format("{:g}", weight) + "; weights must be finite and >= 1");
    }
  }
  return Status::Ok();
}

Status validate_merged(const Workload& workload, const Selections& s) {
  for (int64_t r = 0; r < s.num_rows(); ++r)
    for (int64_t e = s.offsets[r]; e < s.offsets[r + 1]; ++e)
      if (!std::isfinite(s.weights[e]))
        return Status::Error(describe_row(workload, r) + ": the weights added for key " + std::to_string(s.indices[e]) +
                             " sum to " + (std::isnan(s.weights[e]) ? "nan" : "inf") +
                             "; keep each key once with its total weight, which must be finite");
  return Status::Ok();
}

bool is_canonical(const Selections& s) {
  std::atomic<bool> canonical{true};
  parallel_for(s.num_rows(), 0, [&](int64_t r) {
    if (!canonical.load(std::memory_order_relaxed)) return;
    for (int64_t e = s.offsets[r] + 1; e < s.offsets[r + 1]; ++e)
      if (s.indices[e] <= s.indices[e - 1]) {
        canonical.store(false, std::memory_order_relaxed);
        return;
      }
  });
  return canonical;
}

const Selections& canonical_form(const Selections& s, Selections* storage) {
  if (is_canonical(s)) return s;
  *storage = canonicalize(s);
  return *storage;
}

Selections canonicalize(const Selections& s) {
  const int64_t rows = s.num_rows();
  // Rows are independent: sort and merge each on its own thread, then concatenate in row order.
  std::vector<std::vector<int32_t>> row_indices(rows);
  std::vector<std::vector<double>> row_weights(rows);
  parallel_for(rows, 0, [&](int64_t r) {
    const int64_t begin = s.offsets[r], end = s.offsets[r + 1];
    std::vector<std::pair<int32_t, int64_t>> order;  // (index, entry): ties keep entry order
    order.reserve(end - begin);
    for (int64_t e = begin; e < end; ++e) order.emplace_back(s.indices[e], e);
    std::sort(order.begin(), order.end());
    std::vector<int32_t>& indices = row_indices[r];
    std::vector<double>& weights = row_weights[r];
    for (const auto& [index, e] : order) {
      if (!indices.empty() && indices.back() == index) {
        weights.back() += s.weights[e];
      } else {
        indices.push_back(index);
        weights.push_back(s.weights[e]);
      }
    }
  });
  Selections out;
  out.offsets.resize(rows + 1, 0);
  for (int64_t r = 0; r < rows; ++r) out.offsets[r + 1] = out.offsets[r] + static_cast<int64_t>(row_indices[r].size());
  out.indices.resize(out.offsets.back());
  out.weights.resize(out.offsets.back());
  parallel_for(rows, 0, [&](int64_t r) {
    std::copy(row_indices[r].begin(), row_indices[r].end(), out.indices.begin() + out.offsets[r]);
    std::copy(row_weights[r].begin(), row_weights[r].end(), out.weights.begin() + out.offsets[r]);
  });
  return out;
}

std::vector<int64_t> probe_rows(int64_t rows, uint64_t seed, int count) {
  std::vector<int64_t> out;
  if (rows <= count) {
    for (int64_t r = 0; r < rows; ++r) out.push_back(r);
    return out;
  }
  std::set<int64_t> chosen;
  for (uint64_t i = 0; static_cast<int>(chosen.size()) < count; ++i)
    chosen.insert(static_cast<int64_t>(combine_seed(seed, i) % static_cast<uint64_t>(rows)));
  return {chosen.begin(), chosen.end()};
}

std::string selections_fingerprint(const Selections& canonical, const std::vector<int64_t>& rows) {
  XXH3_state_t* state = XXH3_createState();
  XXH3_64bits_reset(state);
  for (int64_t r : rows) {
    if (r >= canonical.num_rows()) continue;
    const int64_t begin = canonical.offsets[r], count = canonical.offsets[r + 1] - begin;
    XXH3_64bits_update(state, &r, sizeof r);
    XXH3_64bits_update(state, &count, sizeof count);
    XXH3_64bits_update(state, canonical.indices.data() + begin, static_cast<size_t>(count) * sizeof(int32_t));
    XXH3_64bits_update(state, canonical.weights.data() + begin, static_cast<size_t>(count) * sizeof(double));
  }
  const uint64_t digest = XXH3_64bits_digest(state);
  XXH3_freeState(state);
  return hex64(digest);
}

}  // namespace adrs

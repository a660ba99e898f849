// masker_api.h: the contract between a sparse-attention masker and the adrs evaluator.
//
// A masker is one C++ file that includes this header and defines
//
//     void select(const adrs::Row& row, adrs::Selection& out);
//
// The evaluator calls select() once per row (one query of one head of one layer at one decode
// step), from several threads at once: do not mutate globals. Everything a row needs is in `row`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace adrs {

inline constexpr int kMaskerApiVersion = 1;

// One query row. Pointers stay valid for the duration of the select() call only; the data is
// read-only (it is mapped read-only: writing to it crashes the masker).
struct Row {
  int32_t num_keys;      // n: the query attends to keys [0, n); key n-1 is its own position
  int32_t head_dim;      // d
  int32_t layer;         // layer index
  int32_t head;          // query head index
  int32_t kv_head;       // key/value head this query head reads (grouped-query attention)
  int32_t step;          // decode step index within the workload
  float scale;           // attention logit of key i is scale * <query, key_i>
  float target_density;  // the run's target: kept distinct keys / n above it is penalized
  uint64_t seed;         // deterministic per (row, evaluation seed): seed any randomness with it
  const float* query;    // [d]
  const float* keys;     // [n * d] row-major: key i is keys[i*d, i*d + d)
  const float* scores;   // [n] oracle logits scale*<q, k_i>; nullptr when the run hides them
  const float* values;   // [n * d] row-major; nullptr unless the run exposes values
};

// The keys a row keeps and their estimator weights. The evaluator computes
//   out = sum_i w_i exp(s_i) v_i / sum_i w_i exp(s_i)   over the added keys i.
// A key kept deterministically has weight 1. A key drawn uniformly (with replacement) by b draws
// from a residual range of n_s keys carries weight n_s / b per draw, which makes the numerator and
// denominator unbiased estimates of the residual sums. Adding an index again adds to its weight.
// Validity (else the candidate is invalid): 0 <= index < n, weight finite and >= 1.
// Density counts distinct indices. An empty selection is valid: its output is the zero vector.
class Selection {
 public:
  void add(int32_t index, double weight = 1.0) {
    indices_.push_back(index);
    weights_.push_back(weight);
  }
  void reserve(std::size_t count) {
    indices_.reserve(count);
    weights_.reserve(count);
  }
  void clear() {
    indices_.clear();
    weights_.clear();
  }
  std::size_t size() const { return indices_.size(); }
  const std::vector<int32_t>& indices() const { return indices_; }
  const std::vector<double>& weights() const { return weights_; }

 private:
  std::vector<int32_t> indices_;
  std::vector<double> weights_;
};

}  // namespace adrs

// Defined by the masker.
void select(const adrs::Row& row, adrs::Selection& out);

// ---- ABI glue (generated here so a masker never writes it) ----------------------------------
// The worker calls the versioned C entry point below. Exceptions never cross it: they become a
// non-zero return and a message.
typedef void (*adrs_emit_fn)(void* context, const int32_t* indices, const double* weights,
                             std::size_t count);

#ifndef ADRS_MASKER_HOST
#include <cstdio>
#include <exception>
#include <new>

extern "C" int adrs_masker_api_version() { return adrs::kMaskerApiVersion; }

// Returns 0 on success; 1 when select() threw (message in `error`); 2 when it ran out of memory.
extern "C" int adrs_masker_select_v1(const adrs::Row* row, adrs_emit_fn emit, void* context,
                                     char* error, std::size_t error_size) {
  try {
    thread_local adrs::Selection selection;
    selection.clear();
    select(*row, selection);
    emit(context, selection.indices().data(), selection.weights().data(), selection.size());
    return 0;
  } catch (const std::bad_alloc&) {
    std::snprintf(error, error_size, "std::bad_alloc (out of memory)");
    return 2;
  } catch (const std::exception& e) {
    std::snprintf(error, error_size, "%s", e.what());
    return 1;
  } catch (...) {
    std::snprintf(error, error_size, "an exception that is not a std::exception");
    return 1;
  }
}
#endif

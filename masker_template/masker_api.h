// masker_api.h: the contract between a sparse-attention masker and the adrs evaluator.
//
// A masker is one C++ file that includes this header and defines
//
//     void select(const adrs::Row& row, adrs::Selection& out);
//
// The evaluator calls select() once per row (one query of one head of one layer at one decode
// step), from several threads at once: do not mutate globals. Everything a row needs is in `row`.
//
// Tracks. On the `oracle` track (the default) row.keys and row.scores hold the raw keys and the
// exact logits. On the `blind` track both are nullptr (dereferencing them crashes the masker) and
// keys are read only through the row's counted readers below; every read is charged, and the
// penalty applies to max(kept density, access density / access_ratio), where the access density is
// the charged key reads / n. Counting happens in the evaluator, outside the masker's process.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace adrs {

inline constexpr int kMaskerApiVersion = 2;

// One read request to the evaluator (used by Row's readers; a masker never fills one itself).
struct KeyRequest {
  int32_t op;            // KeyOp
  int32_t begin, end;    // key range [begin, end), or page range for kPageBounds
  int32_t page_size;     // kPageBounds
  int32_t count;         // entries of `list` (indices for kLogitsOf, channels for kPartialLogits)
  const int32_t* list;
};
enum KeyOp : int32_t { kLogits = 1, kLogitsOf = 2, kReadKeys = 3, kPartialLogits = 4, kPageBounds = 5 };
// Implemented by the evaluator. Returns 0, or non-zero with a message in `error`.
struct KeyReader {
  void* context;
  int (*read)(void* context, const KeyRequest* request, float* out, float* out2, char* error, std::size_t error_size);
};

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
  const float* keys;     // [n * d] row-major: key i is keys[i*d, i*d + d); nullptr on the blind track
  const float* scores;   // [n] oracle logits scale*<q, k_i>; nullptr on the blind track
  const float* values;   // [n * d] row-major; nullptr unless the run exposes values
  const KeyReader* reader;  // the evaluator's, behind the readers below

  // Counted key reads: the only way to read keys on the blind track (they work on both tracks).
  // Thread-safe; each throws std::invalid_argument on a range outside [0, n). Charges, in keys:
  //   logits(b, e, out):        out[i-b] = scale * <query, key_i> for i in [b, e)     e - b
  //   logits_of(idx, m, out):   out[j] = scale * <query, key_idx[j]>                   m
  //   read_keys(b, e, out):     out[(i-b)*d + c] = key_i[c] (whole keys)              e - b
  //   partial_logits(ch, m, b, e, out): out[i-b] = scale * sum_{c in ch[0..m)} query[c]*key_i[c]
  //                                                                     (e - b) * m / d (pro rata)
  //   page_bounds(P, p0, p1, mn, mx): for page p in [p0, p1) (keys [p*P, min(n, p*P+P))),
  //     mn/mx[(p-p0)*d + c] = min/max over the page's keys of key[c] (Quest)   2 per page
  void logits(int32_t begin, int32_t end, float* out) const { call({kLogits, begin, end, 0, 0, nullptr}, out, nullptr); }
  void logits_of(const int32_t* indices, int32_t count, float* out) const {
    call({kLogitsOf, 0, 0, 0, count, indices}, out, nullptr);
  }
  void read_keys(int32_t begin, int32_t end, float* out) const { call({kReadKeys, begin, end, 0, 0, nullptr}, out, nullptr); }
  void partial_logits(const int32_t* channels, int32_t count, int32_t begin, int32_t end, float* out) const {
    call({kPartialLogits, begin, end, 0, count, channels}, out, nullptr);
  }
  void page_bounds(int32_t page_size, int32_t page_begin, int32_t page_end, float* out_min, float* out_max) const {
    call({kPageBounds, page_begin, page_end, page_size, 0, nullptr}, out_min, out_max);
  }

 private:
  void call(const KeyRequest& request, float* out, float* out2) const {
    char error[256] = "";
    if (reader->read(reader->context, &request, out, out2, error, sizeof error) != 0) throw std::invalid_argument(error);
  }
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
extern "C" int adrs_masker_select_v2(const adrs::Row* row, adrs_emit_fn emit, void* context,
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

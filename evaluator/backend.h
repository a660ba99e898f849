// Backend: where attention is computed. The CPU backend is the reference implementation; the CUDA
// backend implements the same interface. A backend computes, once per workload, the oracle scores
// and the true attention of every row, and then, per candidate, the error of its sparse attention.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "evaluator/selections.h"
#include "evaluator/workload.h"

namespace adrs {

// What the trusted side keeps about the true (dense) attention of every row.
struct Reference {
  std::vector<int64_t> score_offsets;   // row r's scores are [score_offsets[r], score_offsets[r+1])
  std::vector<float> scores;            // oracle logits scale * <q, k_i>, as the masker sees them
  std::vector<double> output_norm_sq;   // ||o_true||^2 per row
  std::vector<double> log_normalizer;   // log sum_i exp(s_i) per row
  std::vector<double> entropy;          // attention entropy / log(n) per row, in [0, 1]
};

// Per-row results of one candidate's sparse attention.
struct RowErrors {
  std::vector<double> error_sq;      // ||o_true - o_sparse||^2
  std::vector<double> kept_mass;     // true attention probability on the kept keys
  std::vector<double> weight_sum;    // sum of estimator weights
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;  // "cpu" or "cuda"
  // Which device: "cpu", "cuda:0", "cuda:1", ... (per-device counts, logs).
  virtual std::string label() const { return name(); }
  virtual const Reference& reference() const = 0;
  // `selections` must be validated and canonical (sorted, merged). An error means the backend
  // itself failed (a device fault, memory): the candidate was not scored.
  virtual Status sparse_errors(const Selections& selections, RowErrors* out) = 0;
};

// Row offsets of per-row arrays of length n (scores): prefix sums of num_keys.
std::vector<int64_t> row_key_offsets(const Workload& workload);

// The weighted sparse estimator of one row, as the CPU backend computes it: with shifted logits
// e_i = exp(s_i - shift), num = sum_e w_e e_i v_i (length d) and den = sum_e w_e e_i.
void cpu_weighted_sums(const Workload& workload, int64_t row, const int32_t* indices, const double* weights,
                       int64_t count, double shift, std::vector<double>* num, double* den);

// The CPU backend: double accumulation throughout; `threads` 0 uses every hardware thread.
std::unique_ptr<Backend> make_cpu_backend(const Workload& workload, int threads);

}  // namespace adrs

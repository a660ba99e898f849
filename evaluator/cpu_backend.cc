#include <algorithm>
#include <cmath>
#include <limits>

#include "evaluator/backend.h"
#include "util/parallel.h"

namespace adrs {

std::vector<int64_t> row_key_offsets(const Workload& workload) {
  std::vector<int64_t> offsets(workload.num_rows() + 1, 0);
  for (int64_t r = 0; r < workload.num_rows(); ++r) offsets[r + 1] = offsets[r] + workload.num_keys(r);
  return offsets;
}

namespace {

double logit(const Workload& w, const float* query, const float* key) {
  double dot = 0.0;
  for (int j = 0; j < w.head_dim; ++j) dot += static_cast<double>(query[j]) * key[j];
  return static_cast<double>(w.scale) * dot;
}

class CpuBackend final : public Backend {
 public:
  CpuBackend(const Workload& workload, int threads) : w_(workload), threads_(threads) {
    const int64_t rows = w_.num_rows();
    const int d = w_.head_dim;
    ref_.score_offsets = row_key_offsets(w_);
    ref_.scores.resize(ref_.score_offsets.back());
    ref_.output_norm_sq.resize(rows);
    ref_.log_normalizer.resize(rows);
    ref_.entropy.resize(rows);
    output_.resize(rows * d);
    parallel_for(rows, threads_, [&](int64_t r) {
      const int32_t n = w_.num_keys(r);
      const float* q = w_.query(r);
      const float* keys = w_.keys(r);
      const float* values = w_.values(r);
      std::vector<double> s(n);
      double m = -std::numeric_limits<double>::infinity();
      for (int32_t i = 0; i < n; ++i) {
        s[i] = logit(w_, q, keys + int64_t{i} * d);
        ref_.scores[ref_.score_offsets[r] + i] = static_cast<float>(s[i]);
        m = std::max(m, s[i]);
      }
      double z = 0.0, weighted_logit = 0.0;
      double* out = &output_[r * d];
      for (int32_t i = 0; i < n; ++i) {
        const double p = std::exp(s[i] - m);
        z += p;
        weighted_logit += p * (s[i] - m);
        for (int j = 0; j < d; ++j) out[j] += p * values[int64_t{i} * d + j];
      }
      double norm_sq = 0.0;
      for (int j = 0; j < d; ++j) {
        out[j] /= z;
        norm_sq += out[j] * out[j];
      }
      ref_.output_norm_sq[r] = norm_sq;
      ref_.log_normalizer[r] = m + std::log(z);
      // H = log z - E[s - m]; normalized by the entropy of the uniform distribution.
      const double entropy = std::log(z) - weighted_logit / z;
      ref_.entropy[r] = n > 1 ? std::clamp(entropy / std::log(static_cast<double>(n)), 0.0, 1.0) : 0.0;
    });
  }

  std::string name() const override { return "cpu"; }
  const Reference& reference() const override { return ref_; }

  Status sparse_errors(const Selections& sel, RowErrors* out) override {
    const int64_t rows = w_.num_rows();
    const int d = w_.head_dim;
    out->error_sq.assign(rows, 0.0);
    out->kept_mass.assign(rows, 0.0);
    out->weight_sum.assign(rows, 0.0);
    parallel_for(rows, threads_, [&](int64_t r) {
      const int64_t begin = sel.offsets[r], end = sel.offsets[r + 1];
      const float* q = w_.query(r);
      const float* keys = w_.keys(r);
      // Shift by the largest kept logit, as the reference does by the largest logit.
      double shift = -std::numeric_limits<double>::infinity();
      double kept = 0.0, weight_sum = 0.0;
      for (int64_t e = begin; e < end; ++e) {
        const double s = logit(w_, q, keys + int64_t{sel.indices[e]} * d);
        shift = std::max(shift, s);
        kept += std::exp(s - ref_.log_normalizer[r]);
        weight_sum += sel.weights[e];
      }
      std::vector<double> num;
      double den = 0.0;
      cpu_weighted_sums(w_, r, &sel.indices[begin], &sel.weights[begin], end - begin, shift, &num, &den);
      // An empty row attends to nothing: its output is the zero vector.
      double err = 0.0;
      const double* truth = &output_[r * d];
      for (int j = 0; j < d; ++j) {
        const double estimate = end > begin ? num[j] / den : 0.0;
        err += (truth[j] - estimate) * (truth[j] - estimate);
      }
      out->error_sq[r] = err;
      out->kept_mass[r] = kept;
      out->weight_sum[r] = weight_sum;
    });
    return Status::Ok();
  }

 private:
  const Workload& w_;
  int threads_;
  Reference ref_;
  std::vector<double> output_;  // true attention output [rows * d]
};

}  // namespace

void cpu_weighted_sums(const Workload& w, int64_t row, const int32_t* indices, const double* weights,
                       int64_t count, double shift, std::vector<double>* num, double* den) {
  const int d = w.head_dim;
  const float* q = w.query(row);
  const float* keys = w.keys(row);
  const float* values = w.values(row);
  num->assign(d, 0.0);
  *den = 0.0;
  for (int64_t e = 0; e < count; ++e) {
    const double p = weights[e] * std::exp(logit(w, q, keys + int64_t{indices[e]} * d) - shift);
    *den += p;
    const float* v = values + int64_t{indices[e]} * d;
    for (int j = 0; j < d; ++j) (*num)[j] += p * v[j];
  }
}

std::unique_ptr<Backend> make_cpu_backend(const Workload& workload, int threads) {
  return std::make_unique<CpuBackend>(workload, threads);
}

}  // namespace adrs

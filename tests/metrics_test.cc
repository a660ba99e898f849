// The metric contract, checked with selections built in-process (no worker involved).
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "evaluator/backend.h"
#include "evaluator/evaluator.h"
#include "tests/test_util.h"

namespace adrs {
namespace {

Selections keep_first(const Workload& w, double fraction) {
  Selections s;
  for (int64_t r = 0; r < w.num_rows(); ++r) {
    std::vector<int32_t> idx;
    const int32_t n = w.num_keys(r);
    for (int32_t i = 0; i < std::max<int32_t>(1, static_cast<int32_t>(fraction * n)); ++i) idx.push_back(i);
    std::vector<double> wt(idx.size(), 1.0);
    s.append_row(idx.data(), wt.data(), static_cast<int64_t>(idx.size()));
  }
  return s;
}

TEST(Metrics, KeepingEveryKeyIsExactAndPenalized) {
  auto e = test::make_evaluator(test::test_options());
  const EvalResult r = e->evaluate_selections(keep_first(e->workload(), 1.0));
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_LT(r.metrics.error, 1e-6);
  EXPECT_DOUBLE_EQ(r.metrics.density, 1.0);
  EXPECT_NEAR(r.metrics.penalty, 90.0, 1e-9);
  EXPECT_NEAR(r.metrics.score, -90.0, 1e-6);
  EXPECT_NEAR(r.metrics.attention_mass_kept, 1.0, 1e-9);
}

TEST(Metrics, EmptyRowsHaveErrorOne) {
  auto e = test::make_evaluator(test::test_options());
  const EvalResult r = e->evaluate_selections(Selections{});
  EXPECT_EQ(r.status, EvalStatus::kInvalidMask);  // no rows returned: wrong row count
  Selections empty;
  for (int64_t i = 0; i < e->workload().num_rows(); ++i) empty.append_row(nullptr, nullptr, 0);
  const EvalResult none = e->evaluate_selections(empty);
  ASSERT_TRUE(none.ok()) << none.message;
  EXPECT_NEAR(none.metrics.error, 1.0, 1e-9);
  EXPECT_EQ(none.metrics.density, 0.0);
  EXPECT_NEAR(none.metrics.score, -1.0, 1e-9);
}

TEST(Metrics, DuplicatesCountOnceForDensityAndAddWeight) {
  auto e = test::make_evaluator(test::test_options());
  const Workload& w = e->workload();
  Selections once, twice;
  for (int64_t r = 0; r < w.num_rows(); ++r) {
    const int32_t idx1[] = {0, 5};
    const double w1[] = {2.0, 1.0};
    const int32_t idx2[] = {5, 0, 0};
    const double w2[] = {1.0, 1.0, 1.0};
    once.append_row(idx1, w1, 2);
    twice.append_row(idx2, w2, 3);
  }
  const EvalResult a = e->evaluate_selections(once), b = e->evaluate_selections(twice);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_DOUBLE_EQ(a.metrics.density, b.metrics.density);
  EXPECT_NEAR(a.metrics.error, b.metrics.error, 1e-12);
}

TEST(Metrics, ErrorIsMeanOverCallsOfFrobeniusRatio) {
  // Keep everything in call 0 and nothing elsewhere: error = (0 + 1 * (calls - 1)) / calls.
  auto e = test::make_evaluator(test::test_options());
  const Workload& w = e->workload();
  Selections s;
  for (int64_t r = 0; r < w.num_rows(); ++r) {
    std::vector<int32_t> idx;
    if (r < w.num_q_heads)
      for (int32_t i = 0; i < w.num_keys(r); ++i) idx.push_back(i);
    std::vector<double> wt(idx.size(), 1.0);
    s.append_row(idx.data(), wt.data(), static_cast<int64_t>(idx.size()));
  }
  const EvalResult r = e->evaluate_selections(s);
  ASSERT_TRUE(r.ok());
  const double calls = static_cast<double>(w.calls.size());
  EXPECT_NEAR(r.metrics.error, (calls - 1) / calls, 1e-9);
}

TEST(Metrics, InvalidEntriesNameRowAndIndex) {
  auto e = test::make_evaluator(test::test_options());
  const Workload& w = e->workload();
  Selections s;
  for (int64_t r = 0; r < w.num_rows(); ++r) {
    const int32_t idx[] = {r == 2 ? w.num_keys(r) + 7 : 0};
    const double wt[] = {1.0};
    s.append_row(idx, wt, 1);
  }
  const EvalResult r = e->evaluate_selections(s);
  EXPECT_EQ(r.status, EvalStatus::kInvalidMask);
  EXPECT_NE(r.message.find("row 2"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find(std::to_string(w.num_keys(2) + 7)), std::string::npos) << r.message;
}

// canonicalize: rows come out sorted with repeats merged (weights added); rows already canonical
// pass through unchanged, also when only some rows need the sort.
TEST(Selections, CanonicalizeSortsMergesAndKeepsCanonicalRows) {
  Selections sorted;
  const int32_t a[] = {0, 3, 9};
  const double wa[] = {1.0, 2.0, 1.5};
  sorted.append_row(a, wa, 3);
  sorted.append_row(a, wa, 0);
  EXPECT_TRUE(is_canonical(sorted));
  const Selections same = canonicalize(sorted);
  EXPECT_EQ(same.offsets, sorted.offsets);
  EXPECT_EQ(same.indices, sorted.indices);
  EXPECT_EQ(same.weights, sorted.weights);

  Selections mixed = sorted;
  const int32_t b[] = {7, 2, 7, 2, 5};
  const double wb[] = {1.0, 2.0, 3.0, 4.0, 5.0};
  mixed.append_row(b, wb, 5);
  EXPECT_FALSE(is_canonical(mixed));
  const Selections c = canonicalize(mixed);
  EXPECT_TRUE(is_canonical(c));
  EXPECT_EQ(c.offsets, (std::vector<int64_t>{0, 3, 3, 6}));
  EXPECT_EQ(c.indices, (std::vector<int32_t>{0, 3, 9, 2, 5, 7}));
  EXPECT_EQ(c.weights, (std::vector<double>{1.0, 2.0, 1.5, 6.0, 5.0, 4.0}));
}

// A backend that fails while scoring (a device fault): the candidate gets internal_error with the
// backend's reason, never metrics.
class FailingBackend final : public Backend {
 public:
  explicit FailingBackend(const Workload& w) : cpu_(make_cpu_backend(w, 1)) {}
  std::string name() const override { return "failing"; }
  const Reference& reference() const override { return cpu_->reference(); }
  Status sparse_errors(const Selections&, RowErrors*) override { return Status::Error("device lost (test)"); }

 private:
  std::unique_ptr<Backend> cpu_;
};

TEST(Metrics, BackendFailureIsAnInternalErrorNamingTheBackend) {
  auto e = test::make_evaluator(test::test_options());
  e->replace_backend(std::make_unique<FailingBackend>(e->workload()));
  const EvalResult r = e->evaluate_selections(keep_first(e->workload(), 0.5));
  EXPECT_EQ(r.status, EvalStatus::kInternalError);
  EXPECT_NE(r.message.find("failing backend"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("device lost (test)"), std::string::npos) << r.message;
}

// The estimator with uniform sampling and weight n/b is unbiased for N and D: a fixed-seed
// statistical test on a flat and a peaked row.
TEST(Estimator, UniformSamplingIsUnbiased) {
  Workload w;
  ASSERT_TRUE(make_workload("smoke", &w).ok());
  auto backend = make_cpu_backend(w, 0);
  const Reference& ref = backend->reference();
  const int64_t flattest = std::max_element(ref.entropy.begin(), ref.entropy.end()) - ref.entropy.begin();
  const int64_t peakiest = std::min_element(ref.entropy.begin(), ref.entropy.end()) - ref.entropy.begin();
  for (int64_t row : {flattest, peakiest}) {
    const int32_t n = w.num_keys(row);
    std::vector<int32_t> all(n);
    for (int32_t i = 0; i < n; ++i) all[i] = i;
    std::vector<double> ones(n, 1.0), true_num;
    double true_den = 0.0;
    const double shift = ref.log_normalizer[row];
    cpu_weighted_sums(w, row, all.data(), ones.data(), n, shift, &true_num, &true_den);
    EXPECT_NEAR(true_den, 1.0, 1e-9);

    const int b = 64, trials = 3000;
    std::mt19937_64 rng(1234 + row);
    std::uniform_int_distribution<int32_t> pick(0, n - 1);
    std::vector<int32_t> idx(b);
    std::vector<double> wt(b, static_cast<double>(n) / b), num;
    double den = 0.0, den_sum = 0.0, den_sq = 0.0, num_sum = 0.0, num_sq = 0.0;
    for (int t = 0; t < trials; ++t) {
      for (int32_t& i : idx) i = pick(rng);
      cpu_weighted_sums(w, row, idx.data(), wt.data(), b, shift, &num, &den);
      den_sum += den;
      den_sq += den * den;
      num_sum += num[0];
      num_sq += num[0] * num[0];
    }
    auto z_score = [&](double sum, double sq, double truth) {
      const double mean = sum / trials;
      const double var = std::max(sq / trials - mean * mean, 1e-300);
      return std::fabs(mean - truth) / std::sqrt(var / trials);
    };
    EXPECT_LT(z_score(den_sum, den_sq, true_den), 4.0) << "row " << row;
    EXPECT_LT(z_score(num_sum, num_sq, true_num[0]), 4.0) << "row " << row;
    // A sampler that forgets the n/b weight is biased by the factor b/n: the test would see it.
    EXPECT_GT(std::fabs(den_sum / trials * b / n - true_den), 0.5);
  }
}

}  // namespace
}  // namespace adrs

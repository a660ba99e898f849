// Selections: the checks every masker's output goes through before anything is scored. Each bad
// index or weight is rejected with a message naming the row (layer, step, head) and the key;
// repeated indices are merged by summing their weights, and a sum that overflows is rejected.
#include "evaluator/selections.h"

#include <cmath>
#include <limits>

#include <gtest/gtest.h>

namespace adrs {
namespace {

// The smoke workload with every row keeping its last key (weight 1), except `row`, which gets
// `indices` and `weights`.
class SelectionsTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(make_workload("smoke", &w_).ok()); }

  Selections with_row(int64_t row, std::vector<int32_t> indices, std::vector<double> weights) const {
    Selections s;
    for (int64_t r = 0; r < w_.num_rows(); ++r) {
      if (r == row) {
        s.append_row(indices.data(), weights.data(), static_cast<int64_t>(indices.size()));
      } else {
        const int32_t last = w_.num_keys(r) - 1;
        const double one = 1.0;
        s.append_row(&last, &one, 1);
      }
    }
    return s;
  }

  std::string message(const Selections& s) const {
    const Status status = validate_selections(w_, s);
    return status.ok() ? "" : status.message();
  }

  Workload w_;
};

TEST_F(SelectionsTest, ValidRowsAndEmptyRowsPass) {
  EXPECT_EQ(message(with_row(0, {0, 1}, {1.0, 2.5})), "");
  EXPECT_EQ(message(with_row(3, {}, {})), "");
}

TEST_F(SelectionsTest, AWrongRowCountIsRejectedWithBothCounts) {
  Selections s = with_row(0, {0}, {1.0});
  s.offsets.pop_back();
  EXPECT_EQ(message(s), "the masker returned " + std::to_string(w_.num_rows() - 1) + " rows; the workload has " +
                            std::to_string(w_.num_rows()));
}

TEST_F(SelectionsTest, AnIndexOutsideZeroToNIsRejectedNamingTheRowAndIndex) {
  const int64_t row = 5;
  const int32_t n = w_.num_keys(row);
  EXPECT_EQ(message(with_row(row, {0, n}, {1.0, 1.0})),
            describe_row(w_, row) + ": index " + std::to_string(n) + " is out of range [0, " + std::to_string(n) + ")");
  EXPECT_EQ(message(with_row(row, {-1}, {1.0})),
            describe_row(w_, row) + ": index -1 is out of range [0, " + std::to_string(n) + ")");
  EXPECT_EQ(message(with_row(row, {n - 1}, {1.0})), "");
}

TEST_F(SelectionsTest, AWeightBelowOneOrNotFiniteIsRejectedNamingTheKeyAndWeight) {
  const int64_t row = 2;
  const std::string where = describe_row(w_, row);
  const std::string rule = "; weights must be finite and >= 1";
  EXPECT_EQ(message(with_row(row, {3}, {0.5})), where + ": key 3 has weight 0.5" + rule);
  EXPECT_EQ(message(with_row(row, {3}, {0.0})), where + ": key 3 has weight 0" + rule);
  EXPECT_EQ(message(with_row(row, {3}, {1e-7})), where + ": key 3 has weight 1e-07" + rule);
  EXPECT_EQ(message(with_row(row, {3}, {std::numeric_limits<double>::quiet_NaN()})), where + ": key 3 has weight nan" + rule);
  EXPECT_EQ(message(with_row(row, {3}, {std::numeric_limits<double>::infinity()})), where + ": key 3 has weight inf" + rule);
  EXPECT_EQ(message(with_row(row, {3}, {-std::numeric_limits<double>::infinity()})), where + ": key 3 has weight -inf" + rule);
  EXPECT_EQ(message(with_row(row, {3}, {1.0})), "");
}

TEST_F(SelectionsTest, TheFirstBadRowIsTheOneNamed) {
  Selections s = with_row(7, {-2}, {1.0});
  s.weights[0] = 0.25;  // row 0's only entry
  EXPECT_EQ(message(s), describe_row(w_, 0) + ": key " + std::to_string(w_.num_keys(0) - 1) +
                            " has weight 0.25; weights must be finite and >= 1");
}

TEST_F(SelectionsTest, MoreEntriesThanTheCapIsRejectedWithTheCap) {
  const int64_t row = 1;
  const int32_t n = w_.num_keys(row);
  const int64_t cap = max_entries_per_row(n);
  std::vector<int32_t> indices(static_cast<size_t>(cap + 1), 0);
  std::vector<double> weights(indices.size(), 1.0);
  EXPECT_EQ(message(with_row(row, indices, weights)),
            describe_row(w_, row) + ": " + std::to_string(cap + 1) + " entries added; at most " + std::to_string(cap) +
                " are accepted (merge repeated draws of a key into one weight)");
  indices.pop_back();
  weights.pop_back();
  EXPECT_EQ(message(with_row(row, indices, weights)), "");
}

TEST_F(SelectionsTest, RepeatedIndicesAreMergedBySummingTheirWeightsInIndexOrder) {
  const Selections merged = canonicalize(with_row(0, {4, 1, 4, 4}, {1.0, 2.0, 1.5, 3.0}));
  ASSERT_EQ(merged.offsets[1], 2);
  EXPECT_EQ(merged.indices[0], 1);
  EXPECT_EQ(merged.weights[0], 2.0);
  EXPECT_EQ(merged.indices[1], 4);
  EXPECT_EQ(merged.weights[1], 5.5);
  EXPECT_TRUE(is_canonical(merged));
  EXPECT_FALSE(is_canonical(with_row(0, {4, 1}, {1.0, 1.0})));
  EXPECT_FALSE(is_canonical(with_row(0, {1, 1}, {1.0, 1.0})));
}

TEST_F(SelectionsTest, WeightsThatOverflowWhenMergedAreRejectedNamingTheRowAndKey) {
  const int64_t row = 4;
  const Selections s = with_row(row, {2, 2}, {1e308, 1e308});
  EXPECT_EQ(message(s), "");  // each weight alone is valid
  const Status merged = validate_merged(w_, canonicalize(s));
  EXPECT_EQ(merged.message(), describe_row(w_, row) +
                                  ": the weights added for key 2 sum to inf; keep each key once with its total weight, "
                                  "which must be finite");
}

TEST_F(SelectionsTest, RowsAreNamedByLayerStepAndHead) {
  const RowInfo info = w_.row_info(0);
  const CallInfo& call = w_.calls[info.call];
  EXPECT_EQ(describe_row(w_, 0), "row 0 (layer " + std::to_string(call.layer) + ", step " + std::to_string(call.step) +
                                     ", head " + std::to_string(info.head) + ")");
}

}  // namespace
}  // namespace adrs

// The blind track (masker_api.h's counted key readers, evaluator/key_reads.h): nothing a masker
// reads goes uncharged, the counters are out of its reach, and the penalty follows the reads.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "evaluator/worker_protocol.h"
#include "tests/test_util.h"

namespace adrs {
namespace {

namespace fs = std::filesystem;

std::unique_ptr<Evaluator> blind_evaluator(double target = 0.1, double ratio = 2.0) {
  EvalOptions options = test::test_options("smoke");
  options.track = "blind";
  options.target_density = target;
  options.access_ratio = ratio;
  options.threads = 2;
  return test::make_evaluator(options);
}

// Keeps the 10% largest logits, computed through the counted reader (n reads per row).
const char* const kAllLogits = R"(#include "masker_api.h"
#include <algorithm>
#include <numeric>
#include <vector>
void select(const adrs::Row& row, adrs::Selection& out) {
  const int n = row.num_keys;
  std::vector<float> s(n);
  row.logits(0, n, s.data());
  std::vector<int> order(n);
  std::iota(order.begin(), order.end(), 0);
  const int k = std::max(1, n / 10);
  std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int a, int b) { return s[a] > s[b]; });
  for (int i = 0; i < k; ++i) out.add(order[i]);
}
)";

TEST(BlindTrackTest, AMaskerThatComputesEveryLogitThroughTheReaderHasAccessDensityOneAndPaysForIt) {
  auto blind = blind_evaluator();
  const EvalResult r = blind->evaluate_source(kAllLogits);
  ASSERT_TRUE(r.ok()) << r.message;
  ASSERT_TRUE(r.metrics.access_density.has_value());
  EXPECT_DOUBLE_EQ(*r.metrics.access_density, 1.0);
  // Kept density ~0.1, but the reads cost 1.0 / ratio 2 = 0.5: penalty 100 * (0.5 - 0.1) = 40.
  EXPECT_NEAR(r.metrics.penalty, 40.0, 1e-9);
  EXPECT_NEAR(r.metrics.score, -(r.metrics.error + 40.0), 1e-9);
  // The same masker on the oracle track reads in-process and pays nothing for it.
  EvalOptions oracle_options = test::test_options("smoke");
  auto oracle = test::make_evaluator(oracle_options);
  const EvalResult o = oracle->evaluate_source(kAllLogits);
  ASSERT_TRUE(o.ok()) << o.message;
  EXPECT_FALSE(o.metrics.access_density.has_value());
  EXPECT_DOUBLE_EQ(o.metrics.error, r.metrics.error);  // the reader answers with the same logits
}

TEST(BlindTrackTest, AMaskerThatReadsRowScoresOrRowKeysFailsWithAMessageNamingTheReaders) {
  auto blind = blind_evaluator();
  for (const char* field : {"scores", "keys"}) {
    const std::string source = std::string("#include \"masker_api.h\"\nvoid select(const adrs::Row& row, adrs::Selection& out) {\n"
                                           "  volatile float x = row.") + field + "[0];\n  if (x > 1e30f) out.add(0);\n  out.add(0);\n}\n";
    const EvalResult r = blind->evaluate_source(source);
    EXPECT_EQ(r.status, EvalStatus::kCrashed) << field << ": " << r.message;
    EXPECT_NE(r.message.find("nullptr on the blind track"), std::string::npos) << r.message;
  }
}

TEST(BlindTrackTest, ChannelSubsetsAreChargedProRataAndPageSummariesPerPage) {
  auto blind = blind_evaluator(1.0);
  const std::string partial = R"(#include "masker_api.h"
#include <vector>
void select(const adrs::Row& row, adrs::Selection& out) {
  std::vector<int> channels;
  for (int c = 0; c < row.head_dim / 8; ++c) channels.push_back(c * 8);
  std::vector<float> s(row.num_keys);
  row.partial_logits(channels.data(), static_cast<int>(channels.size()), 0, row.num_keys, s.data());
  out.add(row.num_keys - 1);
}
)";
  const EvalResult p = blind->evaluate_source(partial);
  ASSERT_TRUE(p.ok()) << p.message;
  EXPECT_NEAR(*p.metrics.access_density, 1.0 / 8.0, 1e-12);
  const std::string pages = R"(#include "masker_api.h"
#include <vector>
void select(const adrs::Row& row, adrs::Selection& out) {
  const int pages = (row.num_keys + 15) / 16;
  std::vector<float> lo(static_cast<size_t>(pages) * row.head_dim), hi(lo.size());
  row.page_bounds(16, 0, pages, lo.data(), hi.data());
  if (!(lo[0] <= hi[0])) throw 1;
  out.add(0);
}
)";
  const EvalResult q = blind->evaluate_source(pages);
  ASSERT_TRUE(q.ok()) << q.message;
  const Workload& w = blind->workload();
  double expected = 0;
  for (int64_t r = 0; r < w.num_rows(); ++r) expected += 2.0 * ((w.num_keys(r) + 15) / 16) / w.num_keys(r) / static_cast<double>(w.num_rows());
  EXPECT_NEAR(*q.metrics.access_density, expected, 1e-12);
}

TEST(BlindTrackTest, AReadOutsideTheRowIsAnExceptionNamingTheRange) {
  auto blind = blind_evaluator();
  const EvalResult r = blind->evaluate_source(R"(#include "masker_api.h"
void select(const adrs::Row& row, adrs::Selection& out) {
  float x[2];
  row.logits(row.num_keys - 1, row.num_keys + 1, x);
  out.add(0);
}
)");
  EXPECT_EQ(r.status, EvalStatus::kException) << r.message;
  EXPECT_NE(r.message.find("out of range"), std::string::npos) << r.message;
}

// An attacker that talks to the key socket itself: a forged request meant to lower its count
// (a negative list length) ends the conversation; it cannot read a key without paying, and the
// reads it made are still charged.
TEST(BlindTrackTest, AMaskerForgingRequestsOnTheKeySocketCannotLowerItsCharge) {
  auto blind = blind_evaluator();
  const EvalResult r = blind->evaluate_source(R"(#include "masker_api.h"
#include <unistd.h>
#include <cstdint>
#include <vector>
void select(const adrs::Row& row, adrs::Selection& out) {
  std::vector<float> s(row.num_keys);
  row.logits(0, row.num_keys, s.data());
  struct { int64_t row; int32_t op, begin, end, page_size, count, reserved; } forged{0, 1, 0, 0, 0, -1000000, 0};
  if (row.head == 0 && row.step == 0 && row.layer == 0) {
    ssize_t ignored = write(8, &forged, sizeof forged);
    (void)ignored;
  }
  row.logits(0, 1, s.data());
  out.add(0);
}
)");
  EXPECT_EQ(r.status, EvalStatus::kException) << r.message;
}

TEST(BlindTrackTest, TheBlindWorkerInputHoldsNoKeyAndNoScore) {
  auto blind = blind_evaluator();
  const Workload& w = blind->workload();
  const fs::path dir = fs::temp_directory_path() / ("adrs-blind-input-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  ASSERT_TRUE(write_worker_input(w, nullptr, false, (dir / "blind.bin").string(), false).ok());
  ASSERT_TRUE(write_worker_input(w, nullptr, false, (dir / "oracle.bin").string(), true).ok());
  const std::string blind_bytes = test::read_file((dir / "blind.bin").string());
  const std::string oracle_bytes = test::read_file((dir / "oracle.bin").string());
  const std::string first_key(reinterpret_cast<const char*>(w.keys(0)), sizeof(float) * w.head_dim);
  EXPECT_NE(oracle_bytes.find(first_key), std::string::npos);
  EXPECT_EQ(blind_bytes.find(first_key), std::string::npos);
  EXPECT_LT(blind_bytes.size() + static_cast<size_t>(w.kv_floats()) * 4 / 2, oracle_bytes.size());
  fs::remove_all(dir);
}

TEST(BlindTrackTest, OracleBaselinesAreRefusedInABlindLeaderboard) {
  const auto refused = test::run_adrs("leaderboard --workload smoke --densities 0.1 --track blind --only oracle_topk");
  EXPECT_EQ(refused.exit_code, 2) << refused.out << refused.err;
  EXPECT_NE(refused.err.find("oracle_topk"), std::string::npos) << refused.err;
  const auto ok = test::run_adrs("leaderboard --workload smoke --densities 0.1 --track blind --only sink_local --json");
  ASSERT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  const auto j = nlohmann::json::parse(ok.out);
  EXPECT_EQ(j["track"], "blind");
  EXPECT_EQ(j["results"][0]["track"], "blind");
}

}  // namespace
}  // namespace adrs

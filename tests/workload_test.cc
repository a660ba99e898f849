#include "evaluator/workload.h"

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "evaluator/backend.h"
#include "evaluator/worker_protocol.h"

namespace adrs {
namespace {

TEST(Workload, PresetsAreDeterministic) {
  Workload a, b;
  ASSERT_TRUE(make_workload("smoke", &a).ok());
  ASSERT_TRUE(make_workload("smoke", &b).ok());
  ASSERT_EQ(a.kv_floats(), b.kv_floats());
  EXPECT_EQ(0, std::memcmp(a.keys_data(), b.keys_data(), a.kv_floats() * sizeof(float)));
  EXPECT_EQ(0, std::memcmp(a.queries_data(), b.queries_data(), a.query_floats() * sizeof(float)));
}

TEST(Workload, SmokeRowsHaveAtLeast256KeysAndVaryInLength) {
  Workload w;
  ASSERT_TRUE(make_workload("smoke", &w).ok());
  int32_t lo = 1 << 30, hi = 0;
  for (int64_t r = 0; r < w.num_rows(); ++r) {
    lo = std::min(lo, w.num_keys(r));
    hi = std::max(hi, w.num_keys(r));
  }
  EXPECT_GE(lo, 256);
  EXPECT_GT(hi, lo);
}

TEST(Workload, DefaultHasPeakedAndFlatRows) {
  Workload w;
  ASSERT_TRUE(make_workload("default", &w).ok());
  EXPECT_EQ(w.head_dim, 128);
  auto backend = make_cpu_backend(w, 0);
  const auto& entropy = backend->reference().entropy;
  const double lo = *std::min_element(entropy.begin(), entropy.end());
  const double hi = *std::max_element(entropy.begin(), entropy.end());
  EXPECT_LT(lo, 0.3);
  EXPECT_GT(hi, 0.8);
}

TEST(Workload, UnknownPresetNamesTheChoices) {
  Workload w;
  const Status s = make_workload("nope", &w);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("smoke"), std::string::npos);
}

TEST(WorkerProtocol, InputRoundTripsAndHidesValues) {
  Workload w;
  ASSERT_TRUE(make_workload("smoke", &w).ok());
  auto backend = make_cpu_backend(w, 0);
  const std::string path = ::testing::TempDir() + "/input.bin";
  ASSERT_TRUE(write_worker_input(w, backend->reference().scores.data(), false, path).ok());
  WorkerInput in;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_TRUE(map_worker_input(fd, &in).ok());
  ::close(fd);
  EXPECT_FALSE(in.workload.has_values());
  ASSERT_NE(in.scores, nullptr);
  ASSERT_EQ(in.workload.num_rows(), w.num_rows());
  const int64_t last = w.num_rows() - 1;
  EXPECT_EQ(0, std::memcmp(in.workload.keys(last), w.keys(last), sizeof(float) * w.num_keys(last) * w.head_dim));
  EXPECT_EQ(0, std::memcmp(in.workload.query(last), w.query(last), sizeof(float) * w.head_dim));
  EXPECT_EQ(in.scores[in.score_offsets[last] + 5], backend->reference().scores[backend->reference().score_offsets[last] + 5]);
  std::filesystem::remove(path);
}

TEST(WorkerProtocol, TruncatedOutputIsRejected) {
  Selections s;
  const int32_t idx[] = {1, 2};
  const double wt[] = {1, 1};
  s.append_row(idx, wt, 2);
  const std::string path = ::testing::TempDir() + "/sel.bin";
  FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_TRUE(write_selections(fileno(f), s).ok());
  std::fclose(f);
  Selections back;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_TRUE(read_selections(fd, 1, 100, &back).ok());
  EXPECT_EQ(back.indices, s.indices);
  std::filesystem::resize_file(path, std::filesystem::file_size(path) - 3);
  EXPECT_FALSE(read_selections(fd, 1, 100, &back).ok());
  EXPECT_FALSE(read_selections(fd, 2, 100, &back).ok());
  ::close(fd);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace adrs

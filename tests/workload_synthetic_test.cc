// The synthetic model: counter-based (any key, value or query can be made alone), held-out twins,
// the long preset's shape, values behind a secret, and the published statistics `default` is
// calibrated against (sinks, entropy spread, pure top-k error).
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "evaluator/backend.h"
#include "evaluator/synthetic.h"
#include "evaluator/workload_stats.h"

namespace adrs {
namespace {

TEST(Synthetic, EveryNumberIsAPureFunctionOfItsCoordinates) {
  Workload w;
  const uint64_t secret = 0x1234;
  ASSERT_TRUE(make_workload("smoke", &secret, &w).ok());
  SyntheticPreset p;
  ASSERT_TRUE(with_value_secret(*find_synthetic_preset("smoke"), &secret, &p).ok());
  std::vector<float> x(p.head_dim);
  const LayerInfo& layer = w.layers[1];
  for (int32_t position : {0, 3, 300, layer.kv_capacity - 1}) {
    const int64_t at = layer.kv_offset + (int64_t{1} * layer.kv_capacity + position) * p.head_dim;
    synthetic_key(p, 1, 1, position, x.data());
    EXPECT_EQ(0, std::memcmp(x.data(), w.keys_data() + at, 4 * p.head_dim)) << position;
    synthetic_value(p, 1, 1, position, x.data());
    EXPECT_EQ(0, std::memcmp(x.data(), w.values_data() + at, 4 * p.head_dim)) << position;
  }
  const int64_t row = w.num_rows() - 1;
  const RowInfo info = w.row_info(row);
  const CallInfo& call = w.calls[info.call];
  synthetic_query(p, call.layer, info.head, call.step, call.num_keys, x.data());
  EXPECT_EQ(0, std::memcmp(x.data(), w.query(row), 4 * p.head_dim));
}

TEST(Synthetic, NormalsAreStandard) {
  double sum = 0.0, sum_sq = 0.0;
  const int count = 200000;
  for (int i = 0; i < count; ++i) {
    const double z = synthetic_normal(5, kTagKey, 1, 2, i, i % 128);
    sum += z;
    sum_sq += z * z;
  }
  EXPECT_NEAR(sum / count, 0.0, 0.01);
  EXPECT_NEAR(sum_sq / count, 1.0, 0.02);
}

TEST(Synthetic, HeldOutTwinsShareTheShapeButNotTheNumbers) {
  for (const char* name : {"smoke", "default"}) {
    Workload a, b;
    ASSERT_TRUE(make_workload(name, &a).ok());
    ASSERT_TRUE(make_workload(std::string(name) + "-heldout", &b).ok());
    EXPECT_NE(a.seed, b.seed);
    ASSERT_EQ(a.num_rows(), b.num_rows());
    ASSERT_EQ(a.kv_floats(), b.kv_floats());
    for (int64_t r = 0; r < a.num_rows(); ++r) ASSERT_EQ(a.num_keys(r), b.num_keys(r));
    EXPECT_NE(0, std::memcmp(a.keys_data(), b.keys_data(), 4 * a.kv_floats()));
  }
}

TEST(Synthetic, LongPresetHasLlamaShapeAt32kKeysAndLargeIsItsAlias) {
  const SyntheticPreset* p = find_synthetic_preset("long");
  ASSERT_NE(p, nullptr);
  ASSERT_NE(find_synthetic_preset("long-heldout"), nullptr);
  EXPECT_EQ(find_synthetic_preset("large"), p);
  EXPECT_EQ(find_synthetic_preset("large-heldout"), find_synthetic_preset("long-heldout"));
  EXPECT_EQ(find_synthetic_preset("larg"), nullptr);
  EXPECT_EQ(p->layer_context.size(), 32u);
  EXPECT_EQ(p->layer_context[0], 32768);
  EXPECT_EQ(p->num_q_heads, 32);
  EXPECT_EQ(p->num_kv_heads, 8);
  EXPECT_EQ(p->steps, 8);
  EXPECT_EQ(p->head_dim, 128);
  EXPECT_TRUE(p->gpu_sized);
  std::vector<float> key(128);
  synthetic_key(*p, 31, 7, 32767, key.data());  // any single key is cheap on the host
  double norm = 0.0;
  for (float x : key) norm += x * x;
  EXPECT_GT(norm, 50.0);
}

TEST(Synthetic, LongKeysAndValuesAreExactBf16) {
  EXPECT_EQ(synthetic::round_to_bf16(1.0f + 0x1p-8f), 1.0f);  // a tie goes to the even neighbour
  EXPECT_EQ(synthetic::round_to_bf16(1.0f + 3 * 0x1p-9f), 1.0f + 0x1p-7f);
  EXPECT_EQ(synthetic::round_to_bf16(-2.5f), -2.5f);
  const SyntheticPreset& large = *find_synthetic_preset("long");
  EXPECT_TRUE(large.bf16_kv);
  EXPECT_FALSE(find_synthetic_preset("default")->bf16_kv);
  std::vector<float> key(128), value(128);
  synthetic_key(large, 3, 2, 1000, key.data());
  synthetic_value(large, 3, 2, 1000, value.data());
  int nonzero = 0;
  for (int j = 0; j < 128; ++j) {
    uint32_t k, v;
    std::memcpy(&k, &key[j], 4);
    std::memcpy(&v, &value[j], 4);
    EXPECT_EQ(k & 0xffffu, 0u) << j;
    EXPECT_EQ(v & 0xffffu, 0u) << j;
    nonzero += key[j] != 0.0f;
  }
  EXPECT_GT(nonzero, 100);
}

// The statistics docs/WORKLOADS.md compares with Llama-3.1-8B's: sinks after the first layers,
// heads from local to close to uniform, and pure oracle top-k errors in the published range.
TEST(Synthetic, DefaultHasSinksAfterTheFirstLayersAndSpansTheEntropySpectrum) {
  Workload w;
  ASSERT_TRUE(make_workload("default", &w).ok());
  auto backend = make_cpu_backend(w, 0);
  const WorkloadStats st = compute_workload_stats(w, backend->reference());
  ASSERT_EQ(st.first_key_mass_by_layer.size(), 6u);
  EXPECT_LT(st.first_key_mass_by_layer[0], 0.01);  // no sink in layer 0
  for (size_t l = 2; l < 6; ++l) EXPECT_GT(st.first_key_mass_by_layer[l], 0.3) << l;
  EXPECT_LE(st.entropy.p10, 0.25);
  EXPECT_GE(st.entropy.p90, 0.7);
  EXPECT_GT(st.local_mass.p90, 0.3);   // recency heads
  EXPECT_LT(st.top10_mass.p10, 0.8);   // a tenth of the rows leave over 20% of their mass to top-k
  EXPECT_GT(st.top10_mass.p90, 0.99);  // and some are peaked
}

// ---- the value secret -----------------------------------------------------------------------------

class ValueSecret : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/adrs-secret-" + std::to_string(::getpid());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(ValueSecret, SameSeedOtherSecretKeepsKeysAndQueriesButChangesEveryValueStream) {
  const uint64_t one = 1, two = 2;
  Workload a, b, c;
  ASSERT_TRUE(make_workload("smoke", &one, &a).ok());
  ASSERT_TRUE(make_workload("smoke", &two, &b).ok());
  ASSERT_TRUE(make_workload("smoke", &one, &c).ok());
  EXPECT_EQ(0, std::memcmp(a.keys_data(), b.keys_data(), 4 * a.kv_floats()));
  EXPECT_EQ(0, std::memcmp(a.queries_data(), b.queries_data(), 4 * a.query_floats()));
  // Not one value element may survive a change of secret (beyond chance agreements of floats).
  int64_t same = 0;
  for (int64_t i = 0; i < a.kv_floats(); ++i) same += a.values_data()[i] == b.values_data()[i];
  EXPECT_LT(same, a.kv_floats() / 1000) << "values must depend on the secret everywhere";
  // The same secret gives the same workload, byte for byte.
  EXPECT_EQ(0, std::memcmp(a.keys_data(), c.keys_data(), 4 * a.kv_floats()));
  EXPECT_EQ(0, std::memcmp(a.values_data(), c.values_data(), 4 * a.kv_floats()));
  EXPECT_EQ(0, std::memcmp(a.queries_data(), c.queries_data(), 4 * a.query_floats()));
}

// An attacker who knows the source and the public seed rebuilds the values with the secret it
// guesses (0, the table's placeholder, or the seed itself): none matches the per-user secret.
TEST_F(ValueSecret, TheTablePresetAloneDoesNotRebuildTheValues) {
  uint64_t secret = 0;
  ASSERT_TRUE(load_value_secret(dir_, &secret).ok());
  SyntheticPreset real;
  ASSERT_TRUE(with_value_secret(*find_synthetic_preset("smoke"), &secret, &real).ok());
  std::vector<float> truth(128), guess(128);
  synthetic_value(real, 1, 0, 300, truth.data());
  for (uint64_t guessed : {uint64_t{0}, real.seed}) {
    SyntheticPreset attacker = *find_synthetic_preset("smoke");
    attacker.value_secret = guessed;
    synthetic_value(attacker, 1, 0, 300, guess.data());
    EXPECT_NE(0, std::memcmp(truth.data(), guess.data(), 4 * 128)) << guessed;
  }
}

// A run spawned with one ADRS_CACHE_DIR and its replay with another must score the same values.
TEST_F(ValueSecret, ThePerUserSecretDoesNotFollowTheCompileCacheDirectory) {
  const char* before = std::getenv("ADRS_CACHE_DIR");
  const std::string saved = before ? before : "";
  Workload a, b;
  ::setenv("ADRS_CACHE_DIR", (dir_ + "/one").c_str(), 1);
  ASSERT_TRUE(make_workload("smoke", &a).ok());
  ::setenv("ADRS_CACHE_DIR", (dir_ + "/two").c_str(), 1);
  ASSERT_TRUE(make_workload("smoke", &b).ok());
  if (before) ::setenv("ADRS_CACHE_DIR", saved.c_str(), 1); else ::unsetenv("ADRS_CACHE_DIR");
  EXPECT_EQ(0, std::memcmp(a.values_data(), b.values_data(), 4 * a.kv_floats()));
}

TEST_F(ValueSecret, IsCreatedPrivateOnceAndReadBackTheSame) {
  uint64_t first = 0, second = 0;
  ASSERT_TRUE(load_value_secret(dir_, &first).ok());
  ASSERT_TRUE(load_value_secret(dir_, &second).ok());
  EXPECT_EQ(first, second);
  struct stat st {};
  ASSERT_EQ(::stat((dir_ + "/value_secret").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_size, 8);
  // Another directory (another user) gets another secret.
  uint64_t other = 0;
  ASSERT_TRUE(load_value_secret(dir_ + "/other", &other).ok());
  EXPECT_NE(first, other);
}

TEST_F(ValueSecret, AFileReadableByOthersOrOfTheWrongSizeIsRefusedWithTheFix) {
  uint64_t secret = 0;
  ASSERT_TRUE(load_value_secret(dir_, &secret).ok());
  const std::string path = dir_ + "/value_secret";
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  Status s = load_value_secret(dir_, &secret);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("chmod 600"), std::string::npos) << s.message();
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  std::ofstream(path, std::ios::app) << "x";
  s = load_value_secret(dir_, &secret);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("delete it"), std::string::npos) << s.message();
  // A symlink planted in its place is not followed.
  std::filesystem::remove(path);
  std::filesystem::create_symlink("/etc/hostname", path);
  EXPECT_FALSE(load_value_secret(dir_, &secret).ok());
}

}  // namespace
}  // namespace adrs

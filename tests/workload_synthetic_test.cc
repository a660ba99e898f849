// The synthetic model: counter-based (any key, value or query can be made alone), held-out twins,
// the large preset's shape, and the entropy spectrum the issue asks of `default`.
#include <gtest/gtest.h>

#include <cstring>

#include "evaluator/backend.h"
#include "evaluator/synthetic.h"
#include "evaluator/workload_stats.h"

namespace adrs {
namespace {

TEST(Synthetic, EveryNumberIsAPureFunctionOfItsCoordinates) {
  Workload w;
  ASSERT_TRUE(make_workload("smoke", &w).ok());
  const SyntheticPreset& p = *find_synthetic_preset("smoke");
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

TEST(Synthetic, LargePresetHasTheGpuShapeAndRefusesAHostTooSmall) {
  const SyntheticPreset* p = find_synthetic_preset("large");
  ASSERT_NE(p, nullptr);
  ASSERT_NE(find_synthetic_preset("large-heldout"), nullptr);
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

TEST(Synthetic, LargeKeysAndValuesAreExactBf16) {
  EXPECT_EQ(synthetic::round_to_bf16(1.0f + 0x1p-8f), 1.0f);  // a tie goes to the even neighbour
  EXPECT_EQ(synthetic::round_to_bf16(1.0f + 3 * 0x1p-9f), 1.0f + 0x1p-7f);
  EXPECT_EQ(synthetic::round_to_bf16(-2.5f), -2.5f);
  const SyntheticPreset& large = *find_synthetic_preset("large");
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

TEST(Synthetic, DefaultSpansTheEntropySpectrumWithSinksAndLocality) {
  Workload w;
  ASSERT_TRUE(make_workload("default", &w).ok());
  auto backend = make_cpu_backend(w, 0);
  const WorkloadStats st = compute_workload_stats(w, backend->reference());
  EXPECT_LE(st.entropy.p10, 0.35);
  EXPECT_GE(st.entropy.p90, 0.8);
  EXPECT_GT(st.sink_mass.mean, 0.1);   // the first keys draw mass in many heads
  EXPECT_GT(st.local_mass.mean, 0.1);  // recency heads
  EXPECT_LT(st.top10_mass.p10, 0.6);   // some rows are flat: top-k alone cannot cover them
  EXPECT_GT(st.top10_mass.p90, 0.95);  // and some are peaked
}

}  // namespace
}  // namespace adrs

// The CUDA backend through the whole evaluator: the backend choice must never move a metric by
// more than 1e-5 relative. On a machine without a CUDA device, checks the error paths instead.
#include <gtest/gtest.h>

#include <cmath>

#include "kernels/cuda_backend.h"
#include "evaluator/evaluator.h"
#include "evaluator/synthetic.h"
#include "tests/test_util.h"

namespace adrs {
namespace {

bool have_device() { return usable_gpus() > 0; }

void expect_close(double gpu, double cpu, const char* what) {
  EXPECT_LE(std::abs(gpu - cpu), 1e-5 * std::max(std::abs(cpu), 1e-9)) << what << ": cuda " << gpu << " cpu " << cpu;
}

// Scores the starter masker and uniform sampling on `workload` with both backends; every metric
// must agree within 1e-5 relative.
void expect_backends_agree(const std::string& workload) {
  EvalOptions options = test::test_options(workload);
  options.device = Device::kCpu;
  auto cpu = test::make_evaluator(options);
  options.device = Device::kCuda;
  auto gpu = test::make_evaluator(options);
  ASSERT_TRUE(cpu && gpu);
  EXPECT_EQ(gpu->backend().name(), "cuda");
  for (const std::string& masker : {test::source_dir() + "/masker_template/evolve_masker.cpp", std::string("uniform_sample")}) {
    const std::string source = test::masker_source(masker);
    const EvalResult c = cpu->evaluate_source(source);
    const EvalResult g = gpu->evaluate_source(source);
    ASSERT_TRUE(c.ok()) << c.message;
    ASSERT_TRUE(g.ok()) << g.message;
    SCOPED_TRACE(workload + " " + masker);
    expect_close(g.metrics.score, c.metrics.score, "score");
    expect_close(g.metrics.error, c.metrics.error, "error");
    expect_close(g.metrics.density, c.metrics.density, "density");
    expect_close(g.metrics.row_error_p50, c.metrics.row_error_p50, "row_error_p50");
    expect_close(g.metrics.row_error_p90, c.metrics.row_error_p90, "row_error_p90");
    expect_close(g.metrics.row_error_max, c.metrics.row_error_max, "row_error_max");
    expect_close(g.metrics.attention_mass_kept, c.metrics.attention_mass_kept, "attention_mass_kept");
    expect_close(g.metrics.weight_mass, c.metrics.weight_mass, "weight_mass");
    ASSERT_EQ(g.metrics.entropy_buckets.size(), c.metrics.entropy_buckets.size());
    for (size_t b = 0; b < c.metrics.entropy_buckets.size(); ++b) {
      EXPECT_EQ(g.metrics.entropy_buckets[b].rows, c.metrics.entropy_buckets[b].rows) << "bucket " << b;
      expect_close(g.metrics.entropy_buckets[b].mean_error, c.metrics.entropy_buckets[b].mean_error, "bucket error");
    }
  }
}

TEST(CudaBackend, MetricsMatchCpuOnDefaultWorkload) {
  if (!have_device()) GTEST_SKIP() << "no CUDA device";
  expect_backends_agree("default");
}

// The shipped real traces: tinylm has head_dim 64 (the backend once refused it), longlm 128 with
// 4k keys and bf16 K/V.
TEST(CudaBackend, MetricsMatchCpuOnTheShippedTraces) {
  if (!have_device()) GTEST_SKIP() << "no CUDA device";
  expect_backends_agree("tinylm");
  expect_backends_agree(test::source_dir() + "/workloads/longlm.safetensors");
}

#ifdef ADRS_HAVE_CUDA
// The device generator against the host one, element by element: they evaluate the same
// expressions (synthetic_model.h), so at most the last bit of a float may differ where the two
// math libraries' float64 log / cos / sin differ by an ulp, and only rarely.
void expect_same_numbers(const SyntheticPreset& preset) {
  Workload host, device;
  ASSERT_TRUE(make_synthetic_workload(preset, &host).ok());
  const Status s = make_synthetic_workload_on_device(preset, &device);
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_EQ(host.kv_floats(), device.kv_floats());
  ASSERT_EQ(host.num_rows(), device.num_rows());
  int64_t differing = 0, total = 0;
  auto compare = [&](const float* a, const float* b, int64_t count, const char* what) {
    for (int64_t i = 0; i < count; ++i) {
      ++total;
      if (a[i] == b[i]) continue;
      ++differing;
      ASSERT_LE(std::abs(a[i] - b[i]), 2.5e-7 * std::max(1.0f, std::abs(a[i]))) << what << " " << i << ": " << a[i] << " vs " << b[i];
    }
  };
  compare(host.keys_data(), device.keys_data(), host.kv_floats(), "key");
  compare(host.values_data(), device.values_data(), host.kv_floats(), "value");
  compare(host.queries_data(), device.queries_data(), host.query_floats(), "query");
  EXPECT_LE(differing, total / 10000) << differing << " of " << total << " floats differ";
}

TEST(CudaBackend, DeviceGeneratedSyntheticWorkloadEqualsTheHostOne) {
  if (!have_device()) GTEST_SKIP() << "no CUDA device";
  expect_same_numbers(*find_synthetic_preset("smoke"));
  SyntheticPreset bf16 = *find_synthetic_preset("default");  // default's shape, large's bf16 rounding
  bf16.bf16_kv = true;
  bf16.layer_context.resize(2);
  expect_same_numbers(bf16);
}

TEST(CudaBackend, LargePresetIsGeneratedOnTheDeviceAndStoredAsBf16) {
  if (!have_device()) GTEST_SKIP() << "no CUDA device";
  // `large` itself takes ~13 GB of host memory; its generator is checked above on smaller shapes.
  // Here: the evaluator picks the device generator for a GPU-sized preset and the backend keeps
  // the bf16-exact keys and values in bf16.
  SyntheticPreset p = *find_synthetic_preset("large");
  p.layer_context.assign(2, 4096);
  Workload w;
  ASSERT_TRUE(make_synthetic_workload_on_device(p, &w).ok());
  std::unique_ptr<Backend> backend;
  ASSERT_TRUE(make_cuda_backend(w, {}, &backend).ok());
  EXPECT_EQ(cuda_backend_timings(*backend).storage, "bf16");
}
#endif

TEST(CudaBackend, AutoPicksTheDeviceWhenPresent) {
  EvalOptions options = test::test_options("smoke");
  options.device = Device::kAuto;
  auto e = test::make_evaluator(options);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->backend().name(), have_device() ? "cuda" : "cpu");
}

TEST(CudaBackend, DeviceCudaWithoutDeviceIsAOneLineError) {
  if (have_device()) GTEST_SKIP() << "a CUDA device is present";
  EvalOptions options = test::test_options("smoke");
  options.device = Device::kCuda;
  std::unique_ptr<Evaluator> e;
  const Status s = Evaluator::Create(options, &e);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("--device cuda"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("--device cpu"), std::string::npos) << s.message();
  EXPECT_EQ(s.message().find('\n'), std::string::npos) << s.message();
}

}  // namespace
}  // namespace adrs

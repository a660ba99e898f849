// The CUDA kernels against the CPU backend (the plain reference), llm.c style: fresh random
// inputs, outputs poisoned before every pass (the backend fills device outputs with NaN first),
// every element compared. Skips where no CUDA device is present. Weights travel to the device as
// fp32, so even fp64 accumulation agrees with the CPU only to about 1e-8.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "evaluator/backend.h"
#include "kernels/cuda_backend.h"

#ifdef ADRS_HAVE_CUDA
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#endif

namespace adrs {
namespace {

#ifdef ADRS_HAVE_CUDA

using Storage = CudaBackendOptions::Storage;

struct Shape {
  int q_heads, kv_heads;
  std::vector<int32_t> capacity;                 // per layer
  std::vector<std::pair<int32_t, int32_t>> calls;  // (layer, n)
};

float round_to(float x, Storage storage) {
  if (storage == Storage::kBF16) return __bfloat162float(__float2bfloat16(x));
  if (storage == Storage::kF16) return __half2float(__float2half(x));
  return x;
}

struct Arrays {
  std::vector<float> keys, values, queries;
};

// A random workload whose rows range from flat to peaked (per-row query temperature, times
// `query_scale`; keys times `key_scale`). K and V are rounded to the storage type, so the CPU
// reference sees exactly what the GPU stores.
Workload random_workload(const Shape& shape, Storage storage, uint64_t seed, int head_dim = 128, float query_scale = 1.0f,
                         float key_scale = 1.0f) {
  Workload w;
  w.name = "random";
  w.head_dim = head_dim;
  w.num_q_heads = shape.q_heads;
  w.num_kv_heads = shape.kv_heads;
  w.scale = static_cast<float>(1.0 / std::sqrt(double(head_dim)));
  int64_t offset = 0;
  for (int32_t cap : shape.capacity) {
    w.layers.push_back({cap, 0, offset});
    offset += int64_t{cap} * shape.kv_heads * head_dim;
  }
  int32_t step = 0;
  for (auto [layer, n] : shape.calls) w.calls.push_back({layer, step++, n, 0});
  auto arrays = std::make_shared<Arrays>();
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  arrays->keys.resize(offset);
  arrays->values.resize(offset);
  for (float& x : arrays->keys) x = round_to(key_scale * normal(rng), storage);
  for (float& x : arrays->values) x = round_to(0.5f + normal(rng), storage);
  arrays->queries.resize(w.query_floats());
  for (int64_t r = 0; r < w.num_rows(); ++r) {
    const float temperature = query_scale * (0.2f + 3.0f * static_cast<float>(r % 7) / 6.0f);
    for (int j = 0; j < head_dim; ++j) arrays->queries[r * head_dim + j] = temperature * normal(rng);
  }
  w.attach(arrays, arrays->keys.data(), arrays->values.data(), arrays->queries.data());
  EXPECT_TRUE(w.check_shape().ok());
  return w;
}

// Canonical random selections: per row a random subset (sorted, distinct) with weights >= 1,
// plus one empty row and one full row.
Selections random_selections(const Workload& w, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  Selections s;
  for (int64_t r = 0; r < w.num_rows(); ++r) {
    const int32_t n = w.num_keys(r);
    const double keep = r == 0 ? 0.0 : r == 1 ? 1.0 : 0.05 + 0.4 * unit(rng);
    std::vector<int32_t> idx;
    std::vector<double> wt;
    for (int32_t i = 0; i < n; ++i)
      if (unit(rng) < keep) {
        idx.push_back(i);
        wt.push_back(unit(rng) < 0.5 ? 1.0 : 1.0 + 10.0 * unit(rng));
      }
    s.append_row(idx.data(), wt.data(), static_cast<int64_t>(idx.size()));
  }
  return s;
}

double rel_diff(double a, double b, double floor) { return std::abs(a - b) / std::max(std::abs(b), floor); }

void compare_backends(const Shape& shape, Storage storage, bool fp64, double tol, uint64_t seed, int head_dim = 128,
                      float query_scale = 1.0f, float key_scale = 1.0f) {
  SCOPED_TRACE("head_dim " + std::to_string(head_dim) + ", seed " + std::to_string(seed));
  const Workload w = random_workload(shape, storage, seed, head_dim, query_scale, key_scale);
  std::unique_ptr<Backend> gpu;
  CudaBackendOptions options;
  options.storage = storage;
  options.fp64_accumulation = fp64;
  ASSERT_TRUE(make_cuda_backend(w, options, &gpu).ok());
  const std::unique_ptr<Backend> cpu = make_cpu_backend(w, 0);
  const Reference& g = gpu->reference();
  const Reference& c = cpu->reference();
  ASSERT_EQ(g.scores.size(), c.scores.size());
  for (size_t i = 0; i < c.scores.size(); ++i) {
    ASSERT_TRUE(std::isfinite(g.scores[i])) << "score " << i << " not written";
    // Logits are compared on the scale of the largest logit magnitude (they cross zero).
    ASSERT_LE(std::abs(g.scores[i] - c.scores[i]), tol * std::max(1.0, std::abs(double{c.scores[i]}))) << "score " << i;
  }
  for (int64_t r = 0; r < w.num_rows(); ++r) {
    ASSERT_TRUE(std::isfinite(g.output_norm_sq[r]) && std::isfinite(g.log_normalizer[r]) && std::isfinite(g.entropy[r])) << r;
    EXPECT_LE(rel_diff(g.output_norm_sq[r], c.output_norm_sq[r], 1e-30), tol) << "row " << r;
    EXPECT_LE(rel_diff(g.log_normalizer[r], c.log_normalizer[r], 1.0), tol) << "row " << r;
    EXPECT_LE(std::abs(g.entropy[r] - c.entropy[r]), tol) << "row " << r;
  }
  for (uint64_t trial = 0; trial < 2; ++trial) {  // twice: buffers are reused between candidates
    const Selections sel = random_selections(w, seed * 7 + trial);
    RowErrors ge, ce;
    ge.error_sq.assign(w.num_rows(), std::nan(""));
    ASSERT_TRUE(gpu->sparse_errors(sel, &ge).ok());
    ASSERT_TRUE(cpu->sparse_errors(sel, &ce).ok());
    for (int64_t r = 0; r < w.num_rows(); ++r) {
      ASSERT_TRUE(std::isfinite(ge.error_sq[r]) && std::isfinite(ge.kept_mass[r]) && std::isfinite(ge.weight_sum[r])) << r;
      // The error is compared as a relative output error ||o_true - o_sparse|| / ||o_true||.
      const double norm = std::sqrt(c.output_norm_sq[r]);
      EXPECT_LE(std::abs(std::sqrt(ge.error_sq[r]) - std::sqrt(ce.error_sq[r])) / norm, tol) << "row " << r;
      EXPECT_LE(std::abs(ge.kept_mass[r] - ce.kept_mass[r]), tol) << "row " << r;
      EXPECT_LE(rel_diff(ge.weight_sum[r], ce.weight_sum[r], 1.0), 1e-6) << "row " << r;  // float weights
    }
  }
}

bool have_device() { return cuda_device_status().ok(); }

const Shape kGqa4{8, 2, {700, 1500}, {{0, 1}, {0, 37}, {0, 700}, {1, 513}, {1, 1500}}};
const Shape kGqa2{6, 3, {900}, {{0, 900}, {0, 129}}};
const Shape kMha{3, 3, {2100}, {{0, 2100}, {0, 5}}};
const Shape kGqa8{16, 2, {3000}, {{0, 3000}, {0, 17}, {0, 1}, {0, 2049}}};

TEST(CudaKernels, Fp32InputsFp64AccumulationMatchCpu) {
  if (!have_device()) GTEST_SKIP() << "no CUDA device";
  compare_backends(kGqa4, Storage::kF32, true, 1e-7, 1);
  compare_backends(kGqa2, Storage::kF32, true, 1e-7, 2);
  compare_backends(kMha, Storage::kF32, true, 1e-7, 3);
}

TEST(CudaKernels, Fp32InputsFp32AccumulationMatchCpuTo1e5) {
  if (!have_device()) GTEST_SKIP() << "no CUDA device";
  compare_backends(kGqa4, Storage::kF32, false, 1e-5, 4);
  compare_backends(kGqa2, Storage::kF32, false, 1e-5, 5);
  compare_backends(kMha, Storage::kF32, false, 1e-5, 6);
}

TEST(CudaKernels, Bf16AndFp16InputsMatchCpuOnTheRoundedInputs) {
  if (!have_device()) GTEST_SKIP() << "no CUDA device";
  compare_backends(kGqa4, Storage::kBF16, false, 1e-5, 7);
  compare_backends(kGqa4, Storage::kF16, false, 1e-5, 8);
  compare_backends(kGqa2, Storage::kBF16, true, 1e-7, 9);
  compare_backends(kMha, Storage::kF16, true, 1e-7, 10);
}

// bf16 K/V with fp32 accumulation run on the tensor-core reference kernel: every GQA group width
// it instantiates (8, 4, 2, 1 heads per block), tiles cut by the end of a call (n = 1, 17, 37, 513),
// splits and warps with many tiles (n = 3000).
TEST(CudaKernels, TensorCoreReferenceMatchesCpuTo1e5) {
  if (!have_device()) GTEST_SKIP() << "no CUDA device";
  compare_backends(kGqa8, Storage::kBF16, false, 1e-5, 13);
  compare_backends(kGqa4, Storage::kBF16, false, 1e-5, 14);
  compare_backends(kGqa2, Storage::kBF16, false, 1e-5, 15);
  compare_backends(kMha, Storage::kBF16, false, 1e-5, 16);
}

const int kOtherHeadDims[] = {64, 80, 96, 256};

// The CUDA-core kernels at every other head dimension: fp32 K/V (a row of 16..64 loads: lanes
// idle at d = 80, 96, two loads per lane at 256) and 16-bit K/V with fp64 accumulation.
TEST(CudaKernels, EveryHeadDimMatchesCpuOnCudaCores) {
  if (!have_device()) GTEST_SKIP() << "no CUDA device";
  uint64_t seed = 100;
  for (int d : kOtherHeadDims) {
    compare_backends(kGqa4, Storage::kF32, true, 1e-7, ++seed, d);
    compare_backends(kMha, Storage::kF32, false, 1e-5, ++seed, d);
    compare_backends(kGqa2, Storage::kBF16, true, 1e-7, ++seed, d);
    compare_backends(kGqa4, Storage::kF16, true, 1e-7, ++seed, d);
  }
}

// bf16 and fp16 K/V with fp32 accumulation take the tensor-core kernel at every head dimension
// (d = 80, 96: rows padded to 128 in shared memory; 256: four chunks per lane group).
TEST(CudaKernels, EveryHeadDimMatchesCpuOnTensorCores) {
  if (!have_device()) GTEST_SKIP() << "no CUDA device";
  uint64_t seed = 200;
  for (int d : kOtherHeadDims) {
    compare_backends(kGqa8, Storage::kBF16, false, 1e-5, ++seed, d);
    compare_backends(kGqa2, Storage::kBF16, false, 1e-5, ++seed, d);
    compare_backends(kGqa4, Storage::kF16, false, 1e-5, ++seed, d);
    compare_backends(kMha, Storage::kF16, false, 1e-5, ++seed, d);
  }
  compare_backends(kGqa8, Storage::kF16, false, 1e-5, ++seed, 128);
}

// fp16 has 5 exponent bits (largest 65504, subnormal below 2^-14): a model with large queries
// and small keys (logits of ordinary size) would overflow to infinity if the queries were split
// into fp16 terms as they are. The kernel scales each head's query by a power of two first (and
// the probabilities by 2^15); huge and tiny queries must agree with the CPU to 1e-5.
TEST(CudaKernels, Fp16TensorCoresTakeQueriesBeyondFp16Range) {
  if (!have_device()) GTEST_SKIP() << "no CUDA device";
  compare_backends(kGqa4, Storage::kF16, false, 1e-5, 301, 128, 3e4f, 1e-4f);
  compare_backends(kGqa8, Storage::kF16, false, 1e-5, 302, 256, 1e5f, 3e-5f);
  compare_backends(kGqa4, Storage::kF16, false, 1e-5, 303, 64, 1e-6f, 1e4f);
  compare_backends(kGqa4, Storage::kBF16, false, 1e-5, 304, 96, 1e-6f);
}

TEST(CudaKernels, UnsupportedHeadDimIsRefusedNamingTheSupportedOnes) {
  if (!have_device()) GTEST_SKIP() << "no CUDA device";
  for (int d : {48, 100, 112, 512}) {
    const Workload w = random_workload(kMha, Storage::kF32, 400 + d, d);
    std::unique_ptr<Backend> gpu;
    const Status s = make_cuda_backend(w, {}, &gpu);
    ASSERT_FALSE(s.ok()) << "head_dim " << d;
    EXPECT_NE(s.message().find("64, 80, 96, 128, 256"), std::string::npos) << s.message();
    EXPECT_NE(s.message().find("--device cpu"), std::string::npos) << s.message();
  }
}

TEST(CudaKernels, AutoStorageKeepsExactBf16DataInBf16) {
  if (!have_device()) GTEST_SKIP() << "no CUDA device";
  const Workload exact = random_workload(kGqa2, Storage::kBF16, 11);
  const Workload inexact = random_workload(kGqa2, Storage::kF32, 12);
  std::unique_ptr<Backend> a, b;
  ASSERT_TRUE(make_cuda_backend(exact, {}, &a).ok());
  ASSERT_TRUE(make_cuda_backend(inexact, {}, &b).ok());
  EXPECT_EQ(cuda_backend_timings(*a).storage, "bf16");
  EXPECT_EQ(cuda_backend_timings(*b).storage, "fp32");
}

#else

TEST(CudaKernels, NotBuilt) { GTEST_SKIP() << "built without CUDA"; }

#endif

}  // namespace
}  // namespace adrs

// Small kernels and helpers around the attention kernels: element sizes, a counter-based random
// fill for benchmarks, and CUDA error text.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "kernels/attention.h"
#include "kernels/launch_util.h"

namespace adrs::cuda {
namespace {

__device__ __forceinline__ uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

template <typename T>
__device__ __forceinline__ T from_float(float x);
template <>
__device__ __forceinline__ float from_float<float>(float x) { return x; }
template <>
__device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float x) { return __float2bfloat16(x); }
template <>
__device__ __forceinline__ __half from_float<__half>(float x) { return __float2half(x); }

// Box-Muller on the two 32-bit halves of one hash: a pure function of (seed, index).
template <typename T>
__global__ void fill_random_kernel(T* out, int64_t count, uint64_t seed, float mean, float stddev) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count; i += int64_t{gridDim.x} * blockDim.x) {
    const uint64_t h = splitmix64(seed ^ splitmix64(static_cast<uint64_t>(i)));
    const float u1 = (static_cast<uint32_t>(h >> 32) + 1.0f) * 2.3283064e-10f;  // (0, 1]
    const float u2 = static_cast<uint32_t>(h) * 2.3283064e-10f;
    const float z = sqrtf(-2.0f * logf(u1)) * cospif(2.0f * u2);
    out[i] = from_float<T>(mean + stddev * z);
  }
}

}  // namespace

size_t kv_element_bytes(KvType type) { return type == KvType::kF32 ? 4 : 2; }

bool supported_head_dim(int head_dim) {
  for (int d : kHeadDims)
    if (d == head_dim) return true;
  return false;
}

const char* supported_head_dims_text() { return "64, 80, 96, 128, 256"; }

const char* kv_type_name(KvType type) {
  switch (type) {
    case KvType::kF32: return "fp32";
    case KvType::kBF16: return "bf16";
    case KvType::kF16: return "fp16";
  }
  return "?";
}

void launch_fill_random(KvType type, void* out, int64_t count, uint64_t seed, float mean, float stddev, void* stream) {
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  dispatch_kv_acc(type, AccType::kF32, [&](auto kv, auto) {
    using T = decltype(kv);
    fill_random_kernel<T><<<4096, 256, 0, s>>>(static_cast<T*>(out), count, seed, mean, stddev);
  });
}

const char* take_last_error() {
  const cudaError_t e = cudaGetLastError();
  return e == cudaSuccess ? "" : cudaGetErrorString(e);
}

}  // namespace adrs::cuda

// Device helpers shared by the attention kernels: 16-byte vector loads of K/V rows converted to
// float, warp reductions, and the online-softmax state that blocks merge by log-sum-exp.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>

#include "kernels/attention.h"

namespace adrs::cuda {

constexpr int kBlockThreads = 128;

// Per element type: how many elements one 16-byte load holds and how to widen them to float.
template <typename KV>
struct KvVec;

template <>
struct KvVec<float> {
  static constexpr int kPerLoad = 4;
  __device__ static void widen(const uint4& v, float* out) {
    out[0] = __uint_as_float(v.x);
    out[1] = __uint_as_float(v.y);
    out[2] = __uint_as_float(v.z);
    out[3] = __uint_as_float(v.w);
  }
};

template <>
struct KvVec<__nv_bfloat16> {
  static constexpr int kPerLoad = 8;
  __device__ static void widen(const uint4& v, float* out) {
    const __nv_bfloat162* pairs = reinterpret_cast<const __nv_bfloat162*>(&v);
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const float2 f = __bfloat1622float2(pairs[i]);
      out[2 * i] = f.x;
      out[2 * i + 1] = f.y;
    }
  }
};

template <>
struct KvVec<__half> {
  static constexpr int kPerLoad = 8;
  __device__ static void widen(const uint4& v, float* out) {
    const __half2* pairs = reinterpret_cast<const __half2*>(&v);
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const float2 f = __half22float2(pairs[i]);
      out[2 * i] = f.x;
      out[2 * i + 1] = f.y;
    }
  }
};

// Geometry of one K/V row of kHeadDim elements read by a "subwarp" of lanes, one load each.
template <typename KV>
struct RowGeometry {
  static constexpr int kPerLane = KvVec<KV>::kPerLoad;
  static constexpr int kLanesPerRow = kHeadDim / kPerLane;           // 16 (16-bit) or 32 (fp32)
  static constexpr int kSubwarps = kBlockThreads / kLanesPerRow;     // rows read at once per block
};

// K/V rows are read once per pass: keep them out of L1.
__device__ __forceinline__ uint4 load_streaming(const uint4* p) { return __ldcs(p); }

template <typename Acc>
__device__ __forceinline__ Acc acc_exp(Acc x);
template <>
__device__ __forceinline__ float acc_exp<float>(float x) { return expf(x); }
template <>
__device__ __forceinline__ double acc_exp<double>(double x) { return exp(x); }

template <typename Acc>
__device__ __forceinline__ Acc acc_log(Acc x);
template <>
__device__ __forceinline__ float acc_log<float>(float x) { return logf(x); }
template <>
__device__ __forceinline__ double acc_log<double>(double x) { return log(x); }

// Sum over the `width` lanes of a subwarp (width a power of two dividing 32).
template <int kWidth, typename T>
__device__ __forceinline__ T subwarp_sum(T value) {
#pragma unroll
  for (int offset = kWidth / 2; offset > 0; offset /= 2) value += __shfl_xor_sync(0xffffffffu, value, offset, kWidth);
  return value;
}

// Sum over a block of kBlockThreads threads; every thread gets the total. `scratch` holds 4 values.
template <typename T>
__device__ __forceinline__ T block_sum(T value, T* scratch) {
  value = subwarp_sum<32>(value);
  const int warp = threadIdx.x / 32;
  __syncthreads();
  if (threadIdx.x % 32 == 0) scratch[warp] = value;
  __syncthreads();
  T total = 0;
#pragma unroll
  for (int i = 0; i < kBlockThreads / 32; ++i) total += scratch[i];
  return total;
}

// exp(m - max) with exp(-inf - finite) = 0 and an empty partial (m = -inf) weighted 0.
template <typename Acc>
__device__ __forceinline__ Acc rescale(Acc m, Acc max) {
  return m == -INFINITY ? Acc(0) : acc_exp<Acc>(m - max);
}

}  // namespace adrs::cuda

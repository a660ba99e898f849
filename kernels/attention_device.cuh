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

constexpr int next_pow2(int x) { return x <= 1 ? 1 : 2 * next_pow2((x + 1) / 2); }

// Geometry of one K/V row of D elements read by a "subwarp" of kLanesPerRow lanes: the row is
// kChunks 16-byte loads; lane `lane` takes chunks lane, lane + kLanesPerRow, ... (kLoadsPerLane of
// them). Subwarp widths must be powers of two for the shuffle reductions, so a row of 10 or 12
// chunks (d = 80, 96 in 16-bit) is read by 16 lanes, the last ones idle (chunk_valid false).
template <typename KV, int D>
struct RowGeometry {
  static constexpr int kPerLoad = KvVec<KV>::kPerLoad;
  static_assert(D % kPerLoad == 0, "a K/V row must be whole 16-byte loads");
  static constexpr int kChunks = D / kPerLoad;
  static constexpr int kLanesPerRow = kChunks >= 32 ? 32 : next_pow2(kChunks);
  static constexpr int kLoadsPerLane = (kChunks + kLanesPerRow - 1) / kLanesPerRow;
  static constexpr int kPerLane = kLoadsPerLane * kPerLoad;            // elements a lane holds
  static constexpr int kSubwarps = kBlockThreads / kLanesPerRow;       // rows read at once per block
  __device__ static bool chunk_valid(int lane, int load) { return lane + load * kLanesPerRow < kChunks; }
  // Dimension of element e (of kPerLane) of `lane`.
  __device__ static int dim(int lane, int e) { return (lane + (e / kPerLoad) * kLanesPerRow) * kPerLoad + e % kPerLoad; }
};

// K/V rows are read once per pass: keep them out of L1.
__device__ __forceinline__ uint4 load_streaming(const uint4* p) { return __ldcs(p); }

// The lane's loads of one row (`row`: the row's first 16-byte chunk); idle chunks read as zeros.
template <typename Geo>
__device__ __forceinline__ void load_row(const uint4* row, int lane, uint4 (&out)[Geo::kLoadsPerLane]) {
#pragma unroll
  for (int p = 0; p < Geo::kLoadsPerLane; ++p)
    out[p] = Geo::chunk_valid(lane, p) ? load_streaming(row + lane + p * Geo::kLanesPerRow) : make_uint4(0, 0, 0, 0);
}

// Widens the lane's loads of one row to kPerLane floats.
template <typename KV, typename Geo>
__device__ __forceinline__ void widen_row(const uint4 (&raw)[Geo::kLoadsPerLane], float (&out)[Geo::kPerLane]) {
#pragma unroll
  for (int p = 0; p < Geo::kLoadsPerLane; ++p) KvVec<KV>::widen(raw[p], out + p * Geo::kPerLoad);
}

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

// Reference (dense) decode attention, flash-decoding style: each block takes one split of one
// call's keys for G query heads that share a kv head (so K and V are read once per group), keeps
// an online softmax per subwarp, merges its subwarps in shared memory and writes one partial;
// a second kernel merges the splits of each row by log-sum-exp and derives the row statistics.
// bf16 or fp16 K/V with fp32 accumulation take the tensor-core kernel (reference_tensor_core.cuh)
// instead of the CUDA-core one below; both feed the same merge. Every kernel is a template on the
// head dimension D (kHeadDims), dispatched at launch.
#include <algorithm>

#include "kernels/attention_device.cuh"
#include "kernels/launch_util.h"
#include "kernels/reference_common.cuh"
#include "kernels/reference_tensor_core.cuh"

namespace adrs::cuda {
namespace {

// U: K/V rows per subwarp and iteration; the next iteration's rows are loaded before this one's
// arithmetic, so loads stay in flight while the block computes.
template <typename KV, typename Acc, int G, int U, int D>
__global__ void __launch_bounds__(kBlockThreads) reference_partial_kernel(DeviceWorkload w, ReferenceOutputs out,
                                                                          ReferencePartials<Acc> partials) {
  using Geo = RowGeometry<KV, D>;
  constexpr int E = Geo::kPerLane, L = Geo::kLanesPerRow, S = Geo::kSubwarps, P = Geo::kLoadsPerLane;
  constexpr int C = Geo::kChunks;
  const int split = blockIdx.x, splits = gridDim.x;
  const int head0 = blockIdx.y * G;
  const int call = blockIdx.z;
  const int n = w.call_keys[call];
  const int chunk = (n + splits - 1) / splits;
  const int begin = split * chunk, end = min(n, begin + chunk);
  const int kv_head = head0 / (w.num_q_heads / w.num_kv_heads);
  const int lane = threadIdx.x % L, sub = threadIdx.x / L;
  const int64_t base = w.call_kv_base[call] + int64_t{kv_head} * w.call_capacity[call] * D;
  const uint4* keys = reinterpret_cast<const uint4*>(static_cast<const KV*>(w.keys) + base);
  const uint4* values = reinterpret_cast<const uint4*>(static_cast<const KV*>(w.values) + base);
  const int64_t row0 = int64_t{call} * w.num_q_heads + head0;

  Acc q[G][E], acc[G][E], m[G], l[G], t[G];
#pragma unroll
  for (int g = 0; g < G; ++g) {
#pragma unroll
    for (int e = 0; e < E; ++e) {
      q[g][e] = Geo::chunk_valid(lane, e / Geo::kPerLoad) ? w.queries[(row0 + g) * D + Geo::dim(lane, e)] : 0.0f;
      acc[g][e] = 0;
    }
    m[g] = -INFINITY;
    l[g] = 0;
    t[g] = 0;
  }

  // The loop bound is uniform per warp: the two subwarps of a warp (16-bit K/V) shuffle with a
  // full mask, so neither may leave the loop while the other is still in it.
  const int warp_first_sub = (threadIdx.x / 32) * (32 / L);
  uint4 kraw[U][P], vraw[U][P];
  auto load_rows = [&](int k0, uint4 (*kr)[P], uint4 (*vr)[P]) {
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int k = min(k0 + u, end - 1);  // past the end: re-read a valid row, masked below
      load_row<Geo>(keys + int64_t{k} * C, lane, kr[u]);
      load_row<Geo>(values + int64_t{k} * C, lane, vr[u]);
    }
  };
  if (begin + warp_first_sub * U < end) load_rows(begin + sub * U, kraw, vraw);
  for (int warp_k0 = begin + warp_first_sub * U; warp_k0 < end; warp_k0 += S * U) {
    const int k0 = warp_k0 + (sub - warp_first_sub) * U;
    uint4 knext[U][P], vnext[U][P];
    if (warp_k0 + S * U < end) load_rows(k0 + S * U, knext, vnext);
    Acc s[U][G];
#pragma unroll
    for (int u = 0; u < U; ++u) {
      float kf[E];
      widen_row<KV, Geo>(kraw[u], kf);
#pragma unroll
      for (int g = 0; g < G; ++g) {
        Acc dot = 0;
#pragma unroll
        for (int e = 0; e < E; ++e) dot += q[g][e] * static_cast<Acc>(kf[e]);
        dot = subwarp_sum<L>(dot);
        s[u][g] = k0 + u < end ? static_cast<Acc>(w.scale) * dot : Acc(-INFINITY);
      }
    }
    if (out.scores != nullptr) {
      // Lane (u * G + g) % L writes score (u, g) (a subwarp may have fewer lanes than U * G
      // scores); registers are indexed by constants only.
#pragma unroll
      for (int u = 0; u < U; ++u)
#pragma unroll
        for (int g = 0; g < G; ++g)
          if (lane == (u * G + g) % L && k0 + u < end) out.scores[out.score_offsets[row0 + g] + k0 + u] = static_cast<float>(s[u][g]);
    }
    float vf[U][E];
#pragma unroll
    for (int u = 0; u < U; ++u) widen_row<KV, Geo>(vraw[u], vf[u]);
#pragma unroll
    for (int g = 0; g < G; ++g) {
      Acc top = m[g];
#pragma unroll
      for (int u = 0; u < U; ++u) top = max(top, s[u][g]);  // -inf only while nothing was valid
      const Acc alpha = rescale(m[g], top);
      Acc p[U];
      l[g] *= alpha;
      t[g] *= alpha;
#pragma unroll
      for (int u = 0; u < U; ++u) {
        p[u] = k0 + u < end ? acc_exp<Acc>(s[u][g] - top) : Acc(0);
        l[g] += p[u];
        if (k0 + u < end) t[g] += p[u] * s[u][g];
      }
#pragma unroll
      for (int e = 0; e < E; ++e) {
        Acc a = acc[g][e] * alpha;
#pragma unroll
        for (int u = 0; u < U; ++u) a += p[u] * static_cast<Acc>(vf[u][e]);
        acc[g][e] = a;
      }
      m[g] = top;
    }
#pragma unroll
    for (int u = 0; u < U; ++u)
#pragma unroll
      for (int p = 0; p < P; ++p) {
        kraw[u][p] = knext[u][p];
        vraw[u][p] = vnext[u][p];
      }
  }

  // Merge the subwarps of the block.
  __shared__ Acc shared_acc[S][G][D];
  __shared__ Acc shared_stats[S][G][3];
#pragma unroll
  for (int g = 0; g < G; ++g) {
#pragma unroll
    for (int e = 0; e < E; ++e)
      if (Geo::chunk_valid(lane, e / Geo::kPerLoad)) shared_acc[sub][g][Geo::dim(lane, e)] = acc[g][e];
    if (lane == 0) {
      shared_stats[sub][g][0] = m[g];
      shared_stats[sub][g][1] = l[g];
      shared_stats[sub][g][2] = t[g];
    }
  }
  __syncthreads();
  write_block_partial<Acc, S, G, D>(shared_acc, shared_stats, partials, row0, split, splits);
}

// One block per row: merge its splits, then o = N / D, ||o||^2, log D, and the entropy. Thread t
// takes dimensions t, t + kBlockThreads, ... of the head dimension D.
template <typename Acc, int D>
__global__ void __launch_bounds__(kBlockThreads) reference_merge_kernel(DeviceWorkload w, int splits, ReferenceOutputs out,
                                                                        ReferencePartials<Acc> partials) {
  __shared__ double scratch[kBlockThreads / 32];
  const int64_t row = blockIdx.x;
  const int n = w.call_keys[row / w.num_q_heads];
  const Acc* stats = partials.stats + row * splits * 3;
  Acc top = -INFINITY;
  for (int i = 0; i < splits; ++i) top = max(top, stats[i * 3]);
  Acc sum_l = 0, sum_t = 0;
  for (int i = 0; i < splits; ++i) {
    const Acc f = rescale(stats[i * 3], top);
    sum_l += f * stats[i * 3 + 1];
    sum_t += f * stats[i * 3 + 2];
  }
  double my_norm_sq = 0.0;
  for (int dim = threadIdx.x; dim < D; dim += kBlockThreads) {
    Acc sum_acc = 0;
    for (int i = 0; i < splits; ++i) sum_acc += rescale(stats[i * 3], top) * partials.acc[(row * splits + i) * D + dim];
    const double o = static_cast<double>(sum_acc) / static_cast<double>(sum_l);
    out.output[row * D + dim] = o;
    my_norm_sq += o * o;
  }
  const double norm_sq = block_sum(my_norm_sq, scratch);
  if (threadIdx.x == 0) {
    const double log_l = log(static_cast<double>(sum_l));
    out.norm_sq[row] = norm_sq;
    out.log_normalizer[row] = static_cast<double>(top) + log_l;
    // H = log D - E[s - max]; normalized by the entropy of the uniform distribution over n keys.
    const double entropy = log_l - (static_cast<double>(sum_t) / static_cast<double>(sum_l) - static_cast<double>(top));
    out.entropy[row] = n > 1 ? fmin(1.0, fmax(0.0, entropy / log(static_cast<double>(n)))) : 0.0;
  }
}

template <typename KV, typename Acc, int G, int D>
void launch_for_group(const DeviceWorkload& w, int splits, int rows_in_flight, void* workspace, const ReferenceOutputs& out,
                      cudaStream_t stream) {
  const int64_t rows = int64_t{w.num_calls} * w.num_q_heads;
  const ReferencePartials<Acc> partials = reference_partials<Acc>(workspace, rows, splits, D);
  const dim3 grid(splits, w.num_q_heads / G, w.num_calls);
  if (rows_in_flight == 4)
    reference_partial_kernel<KV, Acc, G, 4, D><<<grid, kBlockThreads, 0, stream>>>(w, out, partials);
  else
    reference_partial_kernel<KV, Acc, G, 2, D><<<grid, kBlockThreads, 0, stream>>>(w, out, partials);
  reference_merge_kernel<Acc, D><<<static_cast<unsigned>(rows), kBlockThreads, 0, stream>>>(w, splits, out, partials);
}

template <typename KV, typename Acc, int D>
void launch_typed(const DeviceWorkload& w, int splits, int rows_in_flight, void* workspace, const ReferenceOutputs& out,
                  cudaStream_t stream) {
  // Heads per block: the largest of 4, 2, 1 that divides the GQA group size.
  const int group = w.num_q_heads / w.num_kv_heads;
  if (group % 4 == 0) return launch_for_group<KV, Acc, 4, D>(w, splits, rows_in_flight, workspace, out, stream);
  if (group % 2 == 0) return launch_for_group<KV, Acc, 2, D>(w, splits, rows_in_flight, workspace, out, stream);
  launch_for_group<KV, Acc, 1, D>(w, splits, rows_in_flight, workspace, out, stream);
}

// The tensor-core kernel for G heads per block, then the merge.
template <typename T, int G, int D>
void launch_tensor_core(const DeviceWorkload& w, int splits, void* workspace, const ReferenceOutputs& out, cudaStream_t stream) {
  const int64_t rows = int64_t{w.num_calls} * w.num_q_heads;
  const ReferencePartials<float> partials = reference_partials<float>(workspace, rows, splits, D);
  const dim3 grid(splits, w.num_q_heads / G, w.num_calls);
  constexpr int kShared = TcShape<D>::kSharedBytes;
  cudaFuncSetAttribute(reference_tensor_core_kernel<T, G, D>, cudaFuncAttributeMaxDynamicSharedMemorySize, kShared);
  reference_tensor_core_kernel<T, G, D><<<grid, kBlockThreads, kShared, stream>>>(w, out, partials);
  reference_merge_kernel<float, D><<<static_cast<unsigned>(rows), kBlockThreads, 0, stream>>>(w, splits, out, partials);
}

template <typename T, int D>
void launch_tensor_core_heads(const DeviceWorkload& w, int splits, void* workspace, const ReferenceOutputs& out,
                              cudaStream_t stream) {
  switch (tensor_core_heads(w)) {
    case 8: return launch_tensor_core<T, 8, D>(w, splits, workspace, out, stream);
    case 4: return launch_tensor_core<T, 4, D>(w, splits, workspace, out, stream);
    case 2: return launch_tensor_core<T, 2, D>(w, splits, workspace, out, stream);
    default: return launch_tensor_core<T, 1, D>(w, splits, workspace, out, stream);
  }
}

bool uses_tensor_cores(const DeviceWorkload& w, AccType acc, ReferenceKernel kernel) {
  return kernel == ReferenceKernel::kAuto && (w.kv_type == KvType::kBF16 || w.kv_type == KvType::kF16) &&
         acc == AccType::kF32;
}

}  // namespace

int reference_splits(const DeviceWorkload& w, AccType acc, int max_keys, int sm_count, ReferenceKernel kernel) {
  const bool tensor = uses_tensor_cores(w, acc, kernel);
  const int group = w.num_q_heads / w.num_kv_heads;
  const int heads_per_block = tensor ? tensor_core_heads(w) : group % 4 == 0 ? 4 : group % 2 == 0 ? 2 : 1;
  const int64_t blocks = int64_t{w.num_calls} * (w.num_q_heads / heads_per_block);
  // CUDA cores: aim at 8 blocks per multiprocessor. Tensor cores (2 resident blocks per
  // multiprocessor): about two waves of long blocks; measured on the H200 (docs/PERFORMANCE.md),
  // fewer splits always won at n = 8k..32k (the pipeline fill and the merge are paid per block).
  // Keep at least 512 keys per split either way.
  const int64_t wanted = tensor ? (int64_t{4} * sm_count + blocks / 2) / blocks
                                : (int64_t{8} * sm_count + blocks - 1) / blocks;
  const int64_t most = std::max<int64_t>(1, max_keys / 512);
  return static_cast<int>(std::clamp<int64_t>(wanted, 1, most));
}

size_t reference_workspace_bytes(const DeviceWorkload& w, int splits, AccType acc) {
  const size_t rows = static_cast<size_t>(w.num_calls) * w.num_q_heads;
  return rows * splits * (static_cast<size_t>(w.head_dim) + 3) * (acc == AccType::kF64 ? sizeof(double) : sizeof(float));
}

void launch_reference(const DeviceWorkload& w, AccType acc, int splits, void* workspace, const ReferenceOutputs& out,
                      void* stream, ReferenceKernel kernel, int rows_in_flight) {
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  if (uses_tensor_cores(w, acc, kernel)) {
    dispatch_head_dim(w.head_dim, [&](auto d) {
      if (w.kv_type == KvType::kBF16) launch_tensor_core_heads<__nv_bfloat16, decltype(d)::value>(w, splits, workspace, out, s);
      else launch_tensor_core_heads<__half, decltype(d)::value>(w, splits, workspace, out, s);
    });
    return;
  }
  if (rows_in_flight == 0) rows_in_flight = acc == AccType::kF64 ? 2 : 4;
  dispatch_kv_acc(w.kv_type, acc, [&](auto kv, auto a) {
    using KV = decltype(kv);
    using Acc = decltype(a);
    dispatch_head_dim(w.head_dim, [&](auto d) { launch_typed<KV, Acc, decltype(d)::value>(w, splits, rows_in_flight, workspace, out, s); });
  });
}

}  // namespace adrs::cuda

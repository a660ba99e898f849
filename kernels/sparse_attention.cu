// Weighted sparse attention over each row's kept keys (CSR indices + estimator weights), with the
// per-row error reductions. A row's entries are cut into blocks of kSparseBlockEntries; each block
// gathers its K/V rows, keeps an online softmax of w_i exp(s_i), and writes one partial; the merge
// kernel combines a row's partials and compares o_sparse = N / D with the true output.
#include "kernels/attention_device.cuh"
#include "kernels/launch_util.h"

namespace adrs::cuda {
namespace {

constexpr int kEntriesPerIteration = 4;  // gathered rows each subwarp has in flight

// One partial per block, indexed by global block number: acc[D], then 4 stats: max m,
// sum l of w exp(s - m), kept mass, weight sum.
constexpr int64_t partial_stride(int head_dim) { return head_dim + 4; }

template <typename Acc, int D>
struct SparsePartials {
  Acc* base;
  __device__ Acc* acc(int64_t block) const { return base + block * partial_stride(D); }
  __device__ Acc* stats(int64_t block) const { return base + block * partial_stride(D) + D; }
};

template <typename KV, typename Acc, int D>
__global__ void __launch_bounds__(kBlockThreads) sparse_partial_kernel(DeviceWorkload w, DeviceSelections sel,
                                                                       const double* log_normalizer, int64_t block_begin,
                                                                       SparsePartials<Acc, D> partials) {
  using Geo = RowGeometry<KV, D>;
  constexpr int E = Geo::kPerLane, L = Geo::kLanesPerRow, S = Geo::kSubwarps, U = kEntriesPerIteration;
  constexpr int P = Geo::kLoadsPerLane, C = Geo::kChunks;
  const int64_t block = block_begin + blockIdx.x;
  const int64_t row = sel.block_row[block];
  const int64_t first = sel.offsets[row] + (block - sel.row_first_block[row]) * int64_t{kSparseBlockEntries};
  const int64_t last = min(sel.offsets[row + 1], first + kSparseBlockEntries);
  const int call = static_cast<int>(row / w.num_q_heads);
  const int head = static_cast<int>(row % w.num_q_heads);
  const int kv_head = head / (w.num_q_heads / w.num_kv_heads);
  const int n = w.call_keys[call];
  const int lane = threadIdx.x % L, sub = threadIdx.x / L;
  const int64_t base = w.call_kv_base[call] + int64_t{kv_head} * w.call_capacity[call] * D;
  const uint4* keys = reinterpret_cast<const uint4*>(static_cast<const KV*>(w.keys) + base);
  const uint4* values = reinterpret_cast<const uint4*>(static_cast<const KV*>(w.values) + base);
  const Acc log_z = static_cast<Acc>(log_normalizer[row]);

  Acc q[E], acc[E];
#pragma unroll
  for (int e = 0; e < E; ++e) {
    q[e] = Geo::chunk_valid(lane, e / Geo::kPerLoad) ? w.queries[row * D + Geo::dim(lane, e)] : 0.0f;
    acc[e] = 0;
  }
  Acc m = -INFINITY, l = 0, kept = 0, weight_sum = 0;

  // Warp-uniform loop bound: the subwarps of a warp shuffle with a full mask (see the reference).
  const int warp_first_sub = (threadIdx.x / 32) * (32 / L);
  for (int64_t warp_e0 = first + warp_first_sub * U; warp_e0 < last; warp_e0 += S * U) {
    const int64_t e0 = warp_e0 + (sub - warp_first_sub) * U;
    int index[U];
    Acc weight[U];
    bool valid[U];
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int64_t e = min(e0 + u, last - 1);
      index[u] = sel.indices[e];
      // Selections are validated upstream; an index out of range is ignored rather than read.
      valid[u] = e0 + u < last && index[u] >= 0 && index[u] < n;
      if (!valid[u]) index[u] = 0;
      weight[u] = sel.weights != nullptr ? static_cast<Acc>(sel.weights[e]) : Acc(1);
    }
    uint4 kraw[U][P], vraw[U][P];
#pragma unroll
    for (int u = 0; u < U; ++u) {
      load_row<Geo>(keys + int64_t{index[u]} * C, lane, kraw[u]);
      load_row<Geo>(values + int64_t{index[u]} * C, lane, vraw[u]);
    }
    Acc s[U];
#pragma unroll
    for (int u = 0; u < U; ++u) {
      float kf[E];
      widen_row<KV, Geo>(kraw[u], kf);
      Acc dot = 0;
#pragma unroll
      for (int e = 0; e < E; ++e) dot += q[e] * static_cast<Acc>(kf[e]);
      dot = subwarp_sum<L>(dot);
      s[u] = valid[u] ? static_cast<Acc>(w.scale) * dot : Acc(-INFINITY);
    }
    Acc top = m;
#pragma unroll
    for (int u = 0; u < U; ++u) top = max(top, s[u]);
    if (top != -INFINITY) {  // else: no valid entry yet
      const Acc alpha = rescale(m, top);
      Acc p[U];
      l *= alpha;
#pragma unroll
      for (int u = 0; u < U; ++u) {
        p[u] = valid[u] ? weight[u] * acc_exp<Acc>(s[u] - top) : Acc(0);
        l += p[u];
        if (valid[u]) {
          kept += acc_exp<Acc>(s[u] - log_z);
          weight_sum += weight[u];
        }
      }
#pragma unroll
      for (int u = 0; u < U; ++u) {
        float vf[E];
        widen_row<KV, Geo>(vraw[u], vf);
#pragma unroll
        for (int e = 0; e < E; ++e) acc[e] = (u == 0 ? acc[e] * alpha : acc[e]) + p[u] * static_cast<Acc>(vf[e]);
      }
      m = top;
    }
  }

  __shared__ Acc shared_acc[S][D];
  __shared__ Acc shared_stats[S][4];
#pragma unroll
  for (int e = 0; e < E; ++e)
    if (Geo::chunk_valid(lane, e / Geo::kPerLoad)) shared_acc[sub][Geo::dim(lane, e)] = acc[e];
  if (lane == 0) {
    shared_stats[sub][0] = m;
    shared_stats[sub][1] = l;
    shared_stats[sub][2] = kept;
    shared_stats[sub][3] = weight_sum;
  }
  __syncthreads();
  Acc top = -INFINITY;
  for (int i = 0; i < S; ++i) top = max(top, shared_stats[i][0]);
  Acc sum_l = 0, sum_kept = 0, sum_weight = 0;
  for (int i = 0; i < S; ++i) {
    sum_l += rescale(shared_stats[i][0], top) * shared_stats[i][1];
    sum_kept += shared_stats[i][2];
    sum_weight += shared_stats[i][3];
  }
  for (int dim = threadIdx.x; dim < D; dim += kBlockThreads) {
    Acc sum_acc = 0;
    for (int i = 0; i < S; ++i) sum_acc += rescale(shared_stats[i][0], top) * shared_acc[i][dim];
    partials.acc(block)[dim] = sum_acc;
  }
  if (threadIdx.x == 0) {
    Acc* stats = partials.stats(block);
    stats[0] = top;
    stats[1] = sum_l;
    stats[2] = sum_kept;
    stats[3] = sum_weight;
  }
}

// One block per row: o_sparse from the row's partials (zero for an empty row), then the errors.
// Thread t takes dimensions t, t + kBlockThreads, ... of D.
template <typename Acc, int D>
__global__ void __launch_bounds__(kBlockThreads) sparse_merge_kernel(DeviceSelections sel, const double* truth,
                                                                     int64_t row_begin, SparsePartials<Acc, D> partials,
                                                                     SparseOutputs out) {
  __shared__ double scratch[kBlockThreads / 32];
  const int64_t row = row_begin + blockIdx.x;
  const int b0 = sel.row_first_block[row], b1 = sel.row_first_block[row + 1];
  Acc top = -INFINITY;
  for (int b = b0; b < b1; ++b) top = max(top, partials.stats(b)[0]);
  Acc sum_l = 0, sum_kept = 0, sum_weight = 0;
  for (int b = b0; b < b1; ++b) {
    const Acc* stats = partials.stats(b);
    sum_l += rescale(stats[0], top) * stats[1];
    sum_kept += stats[2];
    sum_weight += stats[3];
  }
  double my_error_sq = 0.0;
  for (int dim = threadIdx.x; dim < D; dim += kBlockThreads) {
    Acc sum_acc = 0;
    for (int b = b0; b < b1; ++b) sum_acc += rescale(partials.stats(b)[0], top) * partials.acc(b)[dim];
    // An empty row attends to nothing: its output is the zero vector.
    const double estimate = sum_l > 0 ? static_cast<double>(sum_acc) / static_cast<double>(sum_l) : 0.0;
    const double diff = truth[row * D + dim] - estimate;
    my_error_sq += diff * diff;
  }
  const double error_sq = block_sum(my_error_sq, scratch);
  if (threadIdx.x == 0) {
    out.error_sq[row] = error_sq;
    out.kept_mass[row] = static_cast<double>(sum_kept);
    out.weight_sum[row] = static_cast<double>(sum_weight);
  }
}

}  // namespace

size_t sparse_workspace_bytes(int64_t total_blocks, AccType acc, int head_dim) {
  return static_cast<size_t>(total_blocks) * partial_stride(head_dim) * (acc == AccType::kF64 ? sizeof(double) : sizeof(float));
}

void launch_sparse(const DeviceWorkload& w, AccType acc, const DeviceSelections& sel, const ReferenceOutputs& reference,
                   int64_t row_begin, int64_t row_end, int64_t block_begin, int64_t block_end, void* workspace,
                   const SparseOutputs& out, void* stream) {
  if (row_end <= row_begin) return;
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  dispatch_kv_acc(w.kv_type, acc, [&](auto kv, auto a) {
    using KV = decltype(kv);
    using Acc = decltype(a);
    dispatch_head_dim(w.head_dim, [&](auto d) {
      constexpr int D = decltype(d)::value;
      const SparsePartials<Acc, D> partials{static_cast<Acc*>(workspace)};
      if (block_end > block_begin)
        sparse_partial_kernel<KV, Acc, D><<<static_cast<unsigned>(block_end - block_begin), kBlockThreads, 0, s>>>(
            w, sel, reference.log_normalizer, block_begin, partials);
      sparse_merge_kernel<Acc, D><<<static_cast<unsigned>(row_end - row_begin), kBlockThreads, 0, s>>>(
          sel, reference.output, row_begin, partials, out);
    });
  });
}

}  // namespace adrs::cuda

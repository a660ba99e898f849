// Reference decode attention on tensor cores, for bf16 K/V with fp32 accumulation (the layout of
// the `large` workload and of most real KV caches).
//
// Why: the CUDA-core kernel spends ~60 instructions per 16 bytes of K/V on the dot products,
// their shuffle reductions and the exponentials of a GQA group, and runs out of issue slots at
// ~58% of the copy bandwidth. Here each warp computes, per tile of 16 keys,
//   S = Q K^T    (mma m16n8k16: M = the group's query heads, N = 8 keys, K = 16 dims)
//   O += P V     (M = heads, N = 8 dims, K = the 16 keys)
// so the arithmetic costs a few dozen instructions per tile and the kernel is left to stream K/V.
//
// Exactness: K and V are bf16 already; the fp32 operands (queries, probabilities) are split into
// three bf16 terms x = hi + mid + lo (24 significant bits, like fp32), every bf16 x bf16 product is
// exact in fp32 and the tensor core accumulates in fp32, so results agree with an fp32 CUDA-core
// computation to ~1e-6 relative.
//
// Layout: a block of 4 warps takes one split of one call's keys for G <= 8 heads (M rows G..15
// are zero padding). Each warp streams its own tiles (warp w: tiles w, w + 4, ...) through a
// 3-stage cp.async ring in shared memory, so no registers hold loads in flight; the warps merge
// in shared memory at the end. Shared-memory chunks are XOR-swizzled so the fragment loads below
// are free of bank conflicts.
#pragma once

#include <cuda_bf16.h>

#include <cstdint>

#include "kernels/attention_device.cuh"
#include "kernels/reference_common.cuh"

namespace adrs::cuda {

constexpr int kTcWarps = kBlockThreads / 32;
constexpr int kTcTileKeys = 16;
constexpr int kTcStages = 3;
constexpr int kTcChunksPerRow = kHeadDim * 2 / 16;                     // 16-byte chunks of a bf16 row
constexpr int kTcTileChunks = kTcTileKeys * kTcChunksPerRow;           // per matrix (K or V)
constexpr int kTcStageBytes = 2 * kTcTileChunks * 16;                  // K and V tiles: 8 KiB
constexpr int kTcSharedBytes = kTcWarps * kTcStages * kTcStageBytes;   // 96 KiB per block

// Heads a block serves: the largest of 8, 4, 2, 1 dividing the GQA group.
inline int tensor_core_heads(const DeviceWorkload& w) {
  const int group = w.num_q_heads / w.num_kv_heads;
  return group % 8 == 0 ? 8 : group % 4 == 0 ? 4 : group % 2 == 0 ? 2 : 1;
}

namespace tc {

// Swizzled chunk positions within a row (see the fragment loads in the kernel).
__device__ __forceinline__ int key_chunk(int row, int chunk) { return chunk ^ ((row & 1) << 2); }
__device__ __forceinline__ int value_chunk(int row, int chunk) { return chunk ^ (((row >> 1) & 1) | (((row >> 2) & 1) << 2)); }

__device__ __forceinline__ void copy_async(void* shared, const void* global, bool valid) {
  const unsigned dst = static_cast<unsigned>(__cvta_generic_to_shared(shared));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(global), "r"(valid ? 16 : 0));
}
__device__ __forceinline__ void commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int kPending>
__device__ __forceinline__ void wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(kPending)); }

// Splits (a, b) into three packed bf16 pairs whose sum is (a, b) to 24 bits; low half = a.
__device__ __forceinline__ void split3(float a, float b, uint32_t out[3]) {
#pragma unroll
  for (int i = 0; i < 3; ++i) {
    const __nv_bfloat162 v = __floats2bfloat162_rn(a, b);
    out[i] = *reinterpret_cast<const uint32_t*>(&v);
    const float2 f = __bfloat1622float2(v);
    a -= f.x;
    b -= f.y;
  }
}

// d += A B for one m16n8k16 tile whose A rows 8..15 are zero: the caller's rows (heads) are the
// lane's groupID, so only d0, d1 (columns 2 * tig, 2 * tig + 1) are kept.
__device__ __forceinline__ void mma(float& d0, float& d1, uint32_t a0, uint32_t a2, uint32_t b0, uint32_t b1) {
  float d2 = 0.0f, d3 = 0.0f;
  asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(d0), "+f"(d1), "+f"(d2), "+f"(d3)
      : "r"(a0), "r"(0u), "r"(a2), "r"(0u), "r"(b0), "r"(b1));
}

__device__ __forceinline__ uint32_t word(const uint4& v, int i) { return i == 0 ? v.x : i == 1 ? v.y : i == 2 ? v.z : v.w; }

}  // namespace tc

template <int G>
__global__ void __launch_bounds__(kBlockThreads) reference_tensor_core_kernel(DeviceWorkload w, ReferenceOutputs out,
                                                                              ReferencePartials<float> partials) {
  extern __shared__ __align__(16) unsigned char shared[];
  const int split = blockIdx.x, splits = gridDim.x;
  const int head0 = blockIdx.y * G;
  const int call = blockIdx.z;
  const int n = w.call_keys[call];
  // Splits start on tile boundaries; trailing splits may be empty.
  const int chunk = ((n + splits - 1) / splits + kTcTileKeys - 1) / kTcTileKeys * kTcTileKeys;
  const int begin = min(n, split * chunk), end = min(n, begin + chunk);
  const int kv_head = head0 / (w.num_q_heads / w.num_kv_heads);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int grp = lane / 4, tig = lane % 4;  // the mma fragment coordinates: row (head) and column pair
  const int64_t base = w.call_kv_base[call] + int64_t{kv_head} * w.call_capacity[call] * kHeadDim;
  const uint4* keys = reinterpret_cast<const uint4*>(static_cast<const __nv_bfloat16*>(w.keys) + base);
  const uint4* values = reinterpret_cast<const uint4*>(static_cast<const __nv_bfloat16*>(w.values) + base);
  const int64_t row0 = int64_t{call} * w.num_q_heads + head0;

  // Q as the A operand. Lane (grp, tig) holds head grp's dims 32 j + 8 tig + [0, 8) for j = 0..3,
  // i.e. the same dims it reads of each key row, so the mma's K dimension is a permutation of the
  // head dimension (a dot product does not care). q[term][j][c]: dims 32 j + 8 tig + 2 c, + 1.
  uint32_t q[3][4][4];
  {
    const float* src = w.queries + (row0 + min(grp, G - 1)) * kHeadDim;
#pragma unroll
    for (int j = 0; j < 4; ++j)
#pragma unroll
      for (int c = 0; c < 4; ++c) {
        const int d = 32 * j + 8 * tig + 2 * c;
        uint32_t parts[3];
        tc::split3(grp < G ? src[d] : 0.0f, grp < G ? src[d + 1] : 0.0f, parts);
#pragma unroll
        for (int t = 0; t < 3; ++t) q[t][j][c] = parts[t];
      }
  }

  // Output fragment o[jn][c]: head grp, dim 16 (2 tig + c) + jn.
  float o[16][2];
#pragma unroll
  for (int jn = 0; jn < 16; ++jn) o[jn][0] = o[jn][1] = 0.0f;
  float m = -INFINITY, l = 0.0f, t_sum = 0.0f;

  const int tiles = (end - begin + kTcTileKeys - 1) / kTcTileKeys;
  const int my_tiles = tiles > warp ? (tiles - warp + kTcWarps - 1) / kTcWarps : 0;
  unsigned char* ring = shared + warp * kTcStages * kTcStageBytes;
  auto tile_start = [&](int i) { return begin + (warp + kTcWarps * i) * kTcTileKeys; };
  auto issue = [&](int i) {
    const int k0 = tile_start(i);
    uint4* k_tile = reinterpret_cast<uint4*>(ring + (i % kTcStages) * kTcStageBytes);
    uint4* v_tile = k_tile + kTcTileChunks;
#pragma unroll
    for (int x = 0; x < kTcTileChunks / 32; ++x) {
      const int r = x * 32 / kTcChunksPerRow + lane / kTcChunksPerRow, c = lane % kTcChunksPerRow;
      const bool valid = k0 + r < end;  // past the end: zero-filled, masked below
      const int64_t src = int64_t{valid ? k0 + r : k0} * kTcChunksPerRow + c;
      tc::copy_async(k_tile + r * kTcChunksPerRow + tc::key_chunk(r, c), keys + src, valid);
      tc::copy_async(v_tile + r * kTcChunksPerRow + tc::value_chunk(r, c), values + src, valid);
    }
  };
#pragma unroll
  for (int i = 0; i < kTcStages - 1; ++i) {
    if (i < my_tiles) issue(i);
    tc::commit();
  }
  for (int i = 0; i < my_tiles; ++i) {
    tc::wait<kTcStages - 2>();
    __syncwarp();
    if (i + kTcStages - 1 < my_tiles) issue(i + kTcStages - 1);  // into the stage read in step i - 1
    tc::commit();
    const uint4* k_tile = reinterpret_cast<const uint4*>(ring + (i % kTcStages) * kTcStageBytes);
    const uint4* v_tile = k_tile + kTcTileChunks;
    const int k0 = tile_start(i);

    // S: s[h][c] is head grp at key 8 h + 2 tig + c of the tile (B column = key row of lane group).
    float s[2][2] = {{0.0f, 0.0f}, {0.0f, 0.0f}};
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      uint4 kr[2];
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const int r = grp + 8 * h;
        kr[h] = k_tile[r * kTcChunksPerRow + tc::key_chunk(r, 4 * j + tig)];
      }
#pragma unroll
      for (int step = 0; step < 2; ++step)
#pragma unroll
        for (int h = 0; h < 2; ++h)
#pragma unroll
          for (int t = 2; t >= 0; --t)
            tc::mma(s[h][0], s[h][1], q[t][j][2 * step], q[t][j][2 * step + 1], tc::word(kr[h], 2 * step),
                    tc::word(kr[h], 2 * step + 1));
    }

    // Online softmax of head grp over this tile; the 4 lanes of a group hold its 16 keys.
    float tile_max = -INFINITY;
    bool valid[2][2];
#pragma unroll
    for (int h = 0; h < 2; ++h)
#pragma unroll
      for (int c = 0; c < 2; ++c) {
        const int key = k0 + 8 * h + 2 * tig + c;
        valid[h][c] = key < end;
        s[h][c] *= w.scale;
        if (valid[h][c]) tile_max = fmaxf(tile_max, s[h][c]);
        if (out.scores != nullptr && grp < G && valid[h][c]) out.scores[out.score_offsets[row0 + grp] + key] = s[h][c];
      }
    tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 1));
    tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 2));
    const float top = fmaxf(m, tile_max);  // finite: the tile's first key is valid
    const float alpha = rescale(m, top);
    float p[2][2];
    l *= alpha;
    t_sum *= alpha;
#pragma unroll
    for (int h = 0; h < 2; ++h)
#pragma unroll
      for (int c = 0; c < 2; ++c) {
        p[h][c] = valid[h][c] ? expf(s[h][c] - top) : 0.0f;
        l += p[h][c];
        if (valid[h][c]) t_sum += p[h][c] * s[h][c];
      }
    m = top;
#pragma unroll
    for (int jn = 0; jn < 16; ++jn) {
      o[jn][0] *= alpha;
      o[jn][1] *= alpha;
    }

    // O += P V. P as the A operand is the S fragment as it stands (columns = keys 2 tig (+8)).
    // B column grp of output tile jn is dim 16 grp + jn: lane (grp, tig) reads dims
    // 16 grp + [0, 16) of key rows 2 tig, 2 tig + 1, 2 tig + 8, 2 tig + 9 and pairs them per dim.
    uint32_t pa[3], pb[3];
    tc::split3(p[0][0], p[0][1], pa);
    tc::split3(p[1][0], p[1][1], pb);
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      uint4 v[4];
#pragma unroll
      for (int x = 0; x < 4; ++x) {
        const int r = 2 * tig + (x & 1) + 8 * (x >> 1);
        v[x] = v_tile[r * kTcChunksPerRow + tc::value_chunk(r, 2 * grp + half)];
      }
#pragma unroll
      for (int wd = 0; wd < 4; ++wd)
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          const unsigned selector = e == 0 ? 0x5410u : 0x7632u;  // low or high bf16 of each word
          const uint32_t b0 = __byte_perm(tc::word(v[0], wd), tc::word(v[1], wd), selector);
          const uint32_t b1 = __byte_perm(tc::word(v[2], wd), tc::word(v[3], wd), selector);
          const int jn = 8 * half + 2 * wd + e;
#pragma unroll
          for (int t = 2; t >= 0; --t) tc::mma(o[jn][0], o[jn][1], pa[t], pb[t], b0, b1);
        }
    }
    __syncwarp();
  }
  tc::wait<0>();

  // Sum l and t over the group's 4 lanes, then merge the warps through shared memory.
  l += __shfl_xor_sync(0xffffffffu, l, 1);
  l += __shfl_xor_sync(0xffffffffu, l, 2);
  t_sum += __shfl_xor_sync(0xffffffffu, t_sum, 1);
  t_sum += __shfl_xor_sync(0xffffffffu, t_sum, 2);
  __syncthreads();  // every warp is done with its ring
  auto* shared_acc = reinterpret_cast<float(*)[G][kHeadDim]>(shared);
  auto* shared_stats = reinterpret_cast<float(*)[G][3]>(shared + sizeof(float) * kTcWarps * G * kHeadDim);
  if (grp < G) {
#pragma unroll
    for (int jn = 0; jn < 16; ++jn)
#pragma unroll
      for (int c = 0; c < 2; ++c) shared_acc[warp][grp][16 * (2 * tig + c) + jn] = o[jn][c];
    if (tig == 0) {
      shared_stats[warp][grp][0] = m;
      shared_stats[warp][grp][1] = l;
      shared_stats[warp][grp][2] = t_sum;
    }
  }
  __syncthreads();
  write_block_partial<float, kTcWarps, G>(shared_acc, shared_stats, partials, row0, split, splits);
}

}  // namespace adrs::cuda

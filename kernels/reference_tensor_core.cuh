// Reference decode attention on tensor cores, for bf16 or fp16 K/V with fp32 accumulation (the
// layout of the `large` workload and of most real KV caches), for every head dimension D of
// kHeadDims.
//
// Why: the CUDA-core kernel spends ~60 instructions per 16 bytes of K/V on the dot products,
// their shuffle reductions and the exponentials of a GQA group, and runs out of issue slots at
// ~58% of the copy bandwidth. Here each warp computes, per tile of 16 keys,
//   S = Q K^T    (mma m16n8k16: M = the group's query heads, N = 8 keys, K = 16 dims)
//   O += P V     (M = heads, N = 8 dims, K = the 16 keys)
// so the arithmetic costs a few dozen instructions per tile and the kernel is left to stream K/V.
//
// Exactness: K and V are 16-bit already; the fp32 operands (queries, probabilities) are split into
// three terms of the same type x = hi + mid + lo (24 significant bits or more, like fp32), every
// 16-bit x 16-bit product is exact in fp32 and the tensor core accumulates in fp32, so results
// agree with an fp32 CUDA-core computation to ~1e-6 relative. fp16 has a narrow exponent range
// (subnormal below 2^-14, zero below 2^-24), so the operands are scaled by powers of two first (exact):
// each head's query so that its largest element is in [2^14, 2^15), the probabilities (in [0, 1])
// by 2^15; the products are scaled back. A lost term is then below 2^-40 of the largest one. bf16
// takes the same scaling (harmless: it has fp32's range).
//
// Head dimensions: a row is C = D / 8 16-byte chunks, stored in shared memory with a stride of
// Cp = C rounded up to a multiple of 8 (d = 80, 96: the padding chunks are zero-filled by
// cp.async and add zeros to the dot products). Q K^T runs over Cp / 4 blocks of 32 dims; P V gives
// each B column (lane group) Cp / 8 consecutive chunks.
//
// Layout: a block of 4 warps takes one split of one call's keys for G <= 8 heads (M rows G..15
// are zero padding). Each warp streams its own tiles (warp w: tiles w, w + 4, ...) through a
// 3-stage cp.async ring in shared memory, so no registers hold loads in flight; the warps merge
// in shared memory at the end. Shared-memory chunks are XOR-swizzled so the fragment loads below
// are free of bank conflicts (each quarter warp touches 8 distinct 16-byte bank groups).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <type_traits>

#include "kernels/attention_device.cuh"
#include "kernels/reference_common.cuh"

namespace adrs::cuda {

constexpr int kTcWarps = kBlockThreads / 32;
constexpr int kTcTileKeys = 16;
constexpr int kTcStages = 3;

template <int D>
struct TcShape {
  static_assert(D % 16 == 0, "the mma's K dimension is 16");
  static constexpr int kChunks = D / 8;                                  // 16-byte chunks of a row in global memory
  static constexpr int kStride = (kChunks + 7) / 8 * 8;                  // chunks per row in shared memory
  static constexpr int kDimBlocks = kStride / 4;                         // Q K^T: blocks of 32 dims
  static constexpr int kColumnChunks = kStride / 8;                      // P V: chunks per B column (1, 2 or 4)
  static constexpr int kOutTiles = 8 * kColumnChunks;                    // P V: n-tiles of 8 dims per lane group
  static constexpr int kTileChunks = kTcTileKeys * kStride;              // per matrix (K or V)
  static constexpr int kStageBytes = 2 * kTileChunks * 16;               // K and V tiles (8 KiB at d = 128)
  static constexpr int kRingBytes = kTcWarps * kTcStages * kStageBytes;  // 96 KiB per block at d = 128
  // At d = 256 the query fragments (3 terms x 32 words a lane) and the output (64 a lane) do not
  // fit in registers together (ptxas spilled 264..700 bytes a thread; the kernel ran at a third of
  // the copy bandwidth), so the fragments live in shared memory, one copy for the block's warps.
  static constexpr bool kQueryInShared = D > 128;
  static constexpr int kQueryWords = 3 * kDimBlocks * 4;                 // per lane
  static constexpr int kSharedBytes = kRingBytes + (kQueryInShared ? kQueryWords * 32 * 4 : 0);
  static_assert(kColumnChunks == 1 || kColumnChunks == 2 || kColumnChunks == 4, "see value_chunk");
  static_assert(kTileChunks % 32 == 0, "a warp copies whole rounds of 32 chunks");
};

// Heads a block serves: the largest of 8, 4, 2, 1 dividing the GQA group.
inline int tensor_core_heads(const DeviceWorkload& w) {
  const int group = w.num_q_heads / w.num_kv_heads;
  return group % 8 == 0 ? 8 : group % 4 == 0 ? 4 : group % 2 == 0 ? 2 : 1;
}

namespace tc {

// Swizzled chunk positions within a row (see the fragment loads in the kernel). K: a quarter warp
// reads chunks 4 j + [0, 4) of rows r, r + 1, so odd rows move by 4. V: a quarter warp reads,
// for one row offset, rows 2 tig + x (tig = 0..3: row bits 1, 2) at chunks kColumnChunks * grp +
// half for two neighbouring grp, which differ in bit log2(kColumnChunks); the row's tig bits go
// to the other two bits of the chunk's position within its 8-chunk (128-byte) bank group.
__device__ __forceinline__ int key_chunk(int row, int chunk) { return chunk ^ ((row & 1) << 2); }
template <int kColumnChunks>
__device__ __forceinline__ int value_chunk(int row, int chunk) {
  const int t = (row >> 1) & 3;
  const int bits = kColumnChunks == 1 ? t << 1 : kColumnChunks == 2 ? (t & 1) | ((t >> 1) << 2) : t;
  return chunk ^ bits;
}

__device__ __forceinline__ void copy_async(void* shared, const void* global, bool valid) {
  const unsigned dst = static_cast<unsigned>(__cvta_generic_to_shared(shared));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(global), "r"(valid ? 16 : 0));
}
__device__ __forceinline__ void commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int kPending>
__device__ __forceinline__ void wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(kPending)); }

// Splits (a, b) into three packed 16-bit pairs of type T whose sum is (a, b) to 24 bits or more
// (within T's range: see the scaling above); low half = a.
template <typename T>
__device__ __forceinline__ void split3(float a, float b, uint32_t out[3]) {
#pragma unroll
  for (int i = 0; i < 3; ++i) {
    float2 f;
    if constexpr (std::is_same_v<T, __half>) {
      const __half2 v = __floats2half2_rn(a, b);
      out[i] = *reinterpret_cast<const uint32_t*>(&v);
      f = __half22float2(v);
    } else {
      const __nv_bfloat162 v = __floats2bfloat162_rn(a, b);
      out[i] = *reinterpret_cast<const uint32_t*>(&v);
      f = __bfloat1622float2(v);
    }
    a -= f.x;
    b -= f.y;
  }
}

// d += A B for one m16n8k16 tile whose A rows 8..15 are zero: the caller's rows (heads) are the
// lane's groupID, so only d0, d1 (columns 2 * tig, 2 * tig + 1) are kept.
template <typename T>
__device__ __forceinline__ void mma(float& d0, float& d1, uint32_t a0, uint32_t a2, uint32_t b0, uint32_t b1) {
  float d2 = 0.0f, d3 = 0.0f;
  if constexpr (std::is_same_v<T, __half>)
    asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(d0), "+f"(d1), "+f"(d2), "+f"(d3)
        : "r"(a0), "r"(0u), "r"(a2), "r"(0u), "r"(b0), "r"(b1));
  else
    asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(d0), "+f"(d1), "+f"(d2), "+f"(d3)
        : "r"(a0), "r"(0u), "r"(a2), "r"(0u), "r"(b0), "r"(b1));
}

// Powers of two that put the operands inside fp16's range (see the top of this file).
constexpr float kProbabilityScale = 32768.0f;  // 2^15
constexpr float kProbabilityUnscale = 1.0f / 32768.0f;

__device__ __forceinline__ uint32_t word(const uint4& v, int i) { return i == 0 ? v.x : i == 1 ? v.y : i == 2 ? v.z : v.w; }

}  // namespace tc

template <typename T, int G, int D>
__global__ void __launch_bounds__(kBlockThreads) reference_tensor_core_kernel(DeviceWorkload w, ReferenceOutputs out,
                                                                              ReferencePartials<float> partials) {
  using Shape = TcShape<D>;
  constexpr int C = Shape::kChunks, Cp = Shape::kStride, J = Shape::kDimBlocks, NC = Shape::kColumnChunks;
  constexpr int NT = Shape::kOutTiles, kTileChunks = Shape::kTileChunks, kStageBytes = Shape::kStageBytes;
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
  const int64_t base = w.call_kv_base[call] + int64_t{kv_head} * w.call_capacity[call] * D;
  const uint4* keys = reinterpret_cast<const uint4*>(static_cast<const T*>(w.keys) + base);
  const uint4* values = reinterpret_cast<const uint4*>(static_cast<const T*>(w.values) + base);
  const int64_t row0 = int64_t{call} * w.num_q_heads + head0;

  // Q as the A operand. Lane (grp, tig) holds head grp's dims 32 j + 8 tig + [0, 8) for j < J,
  // i.e. the same dims it reads of each key row, so the mma's K dimension is a permutation of the
  // head dimension (a dot product does not care); dims past D are zero. q[term][j][c]: dims
  // 32 j + 8 tig + 2 c, + 1, times 2^-e (the group's 4 lanes hold the whole head: they agree on e).
  constexpr bool kQueryInShared = Shape::kQueryInShared;
  uint32_t q[3][kQueryInShared ? 1 : J][4] = {};  // unused (zero) when the fragments live in shared memory
  uint32_t* q_shared = reinterpret_cast<uint32_t*>(shared + Shape::kRingBytes);  // [word][lane]
  auto q_word = [&](int t, int j, int c) -> uint32_t {
    if constexpr (kQueryInShared) return q_shared[((t * J + j) * 4 + c) * 32 + lane];
    else return q[t][j][c];
  };
  float s_unscale;
  {
    const float* src = w.queries + (row0 + min(grp, G - 1)) * D;
    float largest = 0.0f;
#pragma unroll
    for (int j = 0; j < J; ++j)
#pragma unroll
      for (int c = 0; c < 4; ++c) {
        const int d = 32 * j + 8 * tig + 2 * c;
        if (grp < G && d < D) largest = fmaxf(largest, fmaxf(fabsf(src[d]), fabsf(src[d + 1])));
      }
    largest = fmaxf(largest, __shfl_xor_sync(0xffffffffu, largest, 1));
    largest = fmaxf(largest, __shfl_xor_sync(0xffffffffu, largest, 2));
    const int e = largest > 0.0f && isfinite(largest) ? max(-110, min(110, ilogbf(largest) - 14)) : 0;
    const float q_scale = ldexpf(1.0f, -e);
    s_unscale = ldexpf(1.0f, e);
#pragma unroll
    for (int j = 0; j < J; ++j)
#pragma unroll
      for (int c = 0; c < 4; ++c) {
        const int d = 32 * j + 8 * tig + 2 * c;
        const bool valid = grp < G && d < D;
        uint32_t parts[3];
        tc::split3<T>(valid ? src[d] * q_scale : 0.0f, valid ? src[d + 1] * q_scale : 0.0f, parts);
#pragma unroll
        for (int t = 0; t < 3; ++t) {
          if constexpr (kQueryInShared) {
            if (warp == 0) q_shared[((t * J + j) * 4 + c) * 32 + lane] = parts[t];  // every warp computed the same
          } else {
            q[t][j][c] = parts[t];
          }
        }
      }
    if constexpr (kQueryInShared) __syncthreads();
  }

  // Output fragment o[jn][c]: head grp, dim 8 NC (2 tig + c) + jn (times 2^15).
  float o[NT][2];
#pragma unroll
  for (int jn = 0; jn < NT; ++jn) o[jn][0] = o[jn][1] = 0.0f;
  float m = -INFINITY, l = 0.0f, t_sum = 0.0f;

  const int tiles = (end - begin + kTcTileKeys - 1) / kTcTileKeys;
  const int my_tiles = tiles > warp ? (tiles - warp + kTcWarps - 1) / kTcWarps : 0;
  unsigned char* ring = shared + warp * kTcStages * kStageBytes;
  auto tile_start = [&](int i) { return begin + (warp + kTcWarps * i) * kTcTileKeys; };
  auto issue = [&](int i) {
    const int k0 = tile_start(i);
    uint4* k_tile = reinterpret_cast<uint4*>(ring + (i % kTcStages) * kStageBytes);
    uint4* v_tile = k_tile + kTileChunks;
#pragma unroll
    for (int x = 0; x < kTileChunks / 32; ++x) {
      const int r = (32 * x + lane) / Cp, c = (32 * x + lane) % Cp;
      // Past the end of the split or of the row (padding chunks): zero-filled, nothing read.
      const bool valid = k0 + r < end && c < C;
      const int64_t src = valid ? int64_t{k0 + r} * C + c : int64_t{k0} * C;
      tc::copy_async(k_tile + r * Cp + tc::key_chunk(r, c), keys + src, valid);
      tc::copy_async(v_tile + r * Cp + tc::value_chunk<NC>(r, c), values + src, valid);
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
    const uint4* k_tile = reinterpret_cast<const uint4*>(ring + (i % kTcStages) * kStageBytes);
    const uint4* v_tile = k_tile + kTileChunks;
    const int k0 = tile_start(i);

    // S: s[h][c] is head grp at key 8 h + 2 tig + c of the tile (B column = key row of lane group).
    // Each block of 32 dims starts from zero and is added with an ordinary (round-to-nearest) fp32
    // add: the tensor core's own accumulation truncates, and one chain of 6 J mma per score (d = 256)
    // drifted to 1e-5 of a score in the tests where the short chains stay near 1e-7.
    float s[2][2] = {{0.0f, 0.0f}, {0.0f, 0.0f}};
#pragma unroll
    for (int j = 0; j < J; ++j) {
      uint4 kr[2];
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const int r = grp + 8 * h;
        kr[h] = k_tile[r * Cp + tc::key_chunk(r, 4 * j + tig)];
      }
      float part[2][2] = {{0.0f, 0.0f}, {0.0f, 0.0f}};
#pragma unroll
      for (int step = 0; step < 2; ++step)
#pragma unroll
        for (int h = 0; h < 2; ++h)
#pragma unroll
          for (int t = 2; t >= 0; --t)
            tc::mma<T>(part[h][0], part[h][1], q_word(t, j, 2 * step), q_word(t, j, 2 * step + 1), tc::word(kr[h], 2 * step),
                       tc::word(kr[h], 2 * step + 1));
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        s[h][0] += part[h][0];
        s[h][1] += part[h][1];
      }
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
        s[h][c] = s[h][c] * s_unscale * w.scale;  // the power of two first: exact
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

    // O += P V. P as the A operand is the S fragment as it stands (columns = keys 2 tig (+8)).
    // B column grp of output tile jn is dim 8 NC grp + jn: lane (grp, tig) reads chunks
    // NC grp + [0, NC) of key rows 2 tig, 2 tig + 1, 2 tig + 8, 2 tig + 9 and pairs them per dim.
    uint32_t pa[3], pb[3];
    tc::split3<T>(p[0][0] * tc::kProbabilityScale, p[0][1] * tc::kProbabilityScale, pa);
    tc::split3<T>(p[1][0] * tc::kProbabilityScale, p[1][1] * tc::kProbabilityScale, pb);
#pragma unroll
    for (int half = 0; half < NC; ++half) {
      uint4 v[4];
#pragma unroll
      for (int x = 0; x < 4; ++x) {
        const int r = 2 * tig + (x & 1) + 8 * (x >> 1);
        v[x] = v_tile[r * Cp + tc::value_chunk<NC>(r, NC * grp + half)];
      }
#pragma unroll
      for (int wd = 0; wd < 4; ++wd)
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          const unsigned selector = e == 0 ? 0x5410u : 0x7632u;  // low or high half of each word
          const uint32_t b0 = __byte_perm(tc::word(v[0], wd), tc::word(v[1], wd), selector);
          const uint32_t b1 = __byte_perm(tc::word(v[2], wd), tc::word(v[3], wd), selector);
          const int jn = 8 * half + 2 * wd + e;
          // This tile's P V from zero, then o = alpha o + tile in fp32 (round-to-nearest), so
          // no long chain of truncating tensor-core adds runs across the tiles (see S above).
          float d0 = 0.0f, d1 = 0.0f;
#pragma unroll
          for (int t = 2; t >= 0; --t) tc::mma<T>(d0, d1, pa[t], pb[t], b0, b1);
          o[jn][0] = fmaf(o[jn][0], alpha, d0);
          o[jn][1] = fmaf(o[jn][1], alpha, d1);
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
  auto* shared_acc = reinterpret_cast<float(*)[G][D]>(shared);
  auto* shared_stats = reinterpret_cast<float(*)[G][3]>(shared + sizeof(float) * kTcWarps * G * D);
  if (grp < G) {
#pragma unroll
    for (int jn = 0; jn < NT; ++jn)
#pragma unroll
      for (int c = 0; c < 2; ++c) {
        const int dim = 8 * NC * (2 * tig + c) + jn;
        if (dim < D) shared_acc[warp][grp][dim] = o[jn][c] * tc::kProbabilityUnscale;
      }
    if (tig == 0) {
      shared_stats[warp][grp][0] = m;
      shared_stats[warp][grp][1] = l;
      shared_stats[warp][grp][2] = t_sum;
    }
  }
  __syncthreads();
  write_block_partial<float, kTcWarps, G, D>(shared_acc, shared_stats, partials, row0, split, splits);
}

}  // namespace adrs::cuda

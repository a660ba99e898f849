// What the two reference kernels (CUDA cores, tensor cores) hand to the merge kernel: per row and
// key split, the unnormalized output and the online-softmax statistics of that split.
#pragma once

#include <cstdint>

#include "kernels/attention_device.cuh"

namespace adrs::cuda {

template <typename Acc>
struct ReferencePartials {
  Acc* acc;    // [rows * splits * head_dim]
  Acc* stats;  // [rows * splits * 3]: running max m, sum l of exp(s - m), sum t of exp(s - m) * s
};

template <typename Acc>
ReferencePartials<Acc> reference_partials(void* workspace, int64_t rows, int splits, int head_dim) {
  Acc* base = static_cast<Acc*>(workspace);
  return {base, base + rows * splits * head_dim};
}

// Merges the S partial states of a block (subwarps or warps, already in shared memory) for each of
// its G heads and writes one partial per row: thread t of kBlockThreads sums dimensions t,
// t + kBlockThreads, ... of D. Call after a __syncthreads() that follows the shared-memory writes.
template <typename Acc, int S, int G, int D>
__device__ void write_block_partial(const Acc (*shared_acc)[G][D], const Acc (*shared_stats)[G][3],
                                    ReferencePartials<Acc> partials, int64_t row0, int split, int splits) {
  for (int g = 0; g < G; ++g) {
    Acc top = -INFINITY;
    for (int i = 0; i < S; ++i) top = max(top, shared_stats[i][g][0]);
    Acc sum_l = 0, sum_t = 0;
    for (int i = 0; i < S; ++i) {
      const Acc f = rescale(shared_stats[i][g][0], top);
      sum_l += f * shared_stats[i][g][1];
      sum_t += f * shared_stats[i][g][2];
    }
    const int64_t slot = (row0 + g) * splits + split;
    for (int dim = threadIdx.x; dim < D; dim += kBlockThreads) {
      Acc sum_acc = 0;
      for (int i = 0; i < S; ++i) sum_acc += rescale(shared_stats[i][g][0], top) * shared_acc[i][g][dim];
      partials.acc[slot * D + dim] = sum_acc;
    }
    if (threadIdx.x == 0) {
      partials.stats[slot * 3 + 0] = top;
      partials.stats[slot * 3 + 1] = sum_l;
      partials.stats[slot * 3 + 2] = sum_t;
    }
  }
}

}  // namespace adrs::cuda

// Kernel benchmarks: device copy bandwidth (the ceiling), then per size n the reference decode
// kernel and the sparse kernel at 10% density, as bytes that must move over median time.
#include "bench/bench_kernels.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "bench/bench_util.h"
#include "kernels/attention.h"
#include "util/hash.h"

namespace adrs::bench {

using cuda::AccType;
using cuda::KvType;

double copy_bandwidth(nlohmann::json* out) {
  const size_t bytes = size_t{2} << 30;
  DeviceBuffer<char> a(bytes), b(bytes);
  check(cudaMemset(a.ptr, 1, bytes), "memset");
  const double s = time_gpu([&] { cudaMemcpyAsync(b.ptr, a.ptr, bytes, cudaMemcpyDeviceToDevice); }, 20, 3);
  const double bw = 2.0 * bytes / s;  // read + write
  (*out)["copy"] = {{"bytes_moved", 2.0 * bytes}, {"seconds", s}, {"bandwidth_gbs", bw / 1e9}};
  std::printf("device copy (D2D, 2 GiB, read+write counted): %.1f GB/s\n", bw / 1e9);
  return bw;
}

namespace {

// A decode batch as the kernels see it: `layers` calls (one step per layer, so no call shares a
// cache and nothing stays in L2), each over n keys of every kv head.
struct Batch {
  int layers, q_heads, kv_heads, n, head_dim;
  KvType type;
  DeviceBuffer<char> keys, values;
  DeviceBuffer<float> queries;
  DeviceBuffer<int64_t> kv_base;
  DeviceBuffer<int32_t> capacity, keys_per_call;
  cuda::DeviceWorkload dw;

  Batch(int layers_, int q_heads_, int kv_heads_, int n_, int head_dim_, KvType type_)
      : layers(layers_), q_heads(q_heads_), kv_heads(kv_heads_), n(n_), head_dim(head_dim_), type(type_),
        keys(kv_elements() * cuda::kv_element_bytes(type_)), values(kv_elements() * cuda::kv_element_bytes(type_)),
        queries(size_t(layers_) * q_heads_ * head_dim_), kv_base(layers_), capacity(layers_), keys_per_call(layers_) {
    cuda::launch_fill_random(type, keys.ptr, kv_elements(), 1, 0.0f, 1.0f, nullptr);
    cuda::launch_fill_random(type, values.ptr, kv_elements(), 2, 0.5f, 1.0f, nullptr);
    cuda::launch_fill_random(KvType::kF32, queries.ptr, int64_t(layers) * q_heads * head_dim, 3, 0.0f, 1.5f, nullptr);
    std::vector<int64_t> base(layers);
    for (int l = 0; l < layers; ++l) base[l] = int64_t(l) * kv_heads * n * head_dim;
    upload(kv_base, base);
    upload(capacity, std::vector<int32_t>(layers, n));
    upload(keys_per_call, std::vector<int32_t>(layers, n));
    dw.kv_type = type;
    dw.head_dim = head_dim;
    dw.keys = keys.ptr;
    dw.values = values.ptr;
    dw.queries = queries.ptr;
    dw.call_kv_base = kv_base.ptr;
    dw.call_capacity = capacity.ptr;
    dw.call_keys = keys_per_call.ptr;
    dw.num_calls = layers;
    dw.num_q_heads = q_heads;
    dw.num_kv_heads = kv_heads;
    dw.scale = static_cast<float>(1.0 / std::sqrt(double(head_dim)));
    check(cudaDeviceSynchronize(), "fill");
  }
  int64_t kv_elements() const { return int64_t(layers) * kv_heads * n * head_dim; }
  int64_t rows() const { return int64_t(layers) * q_heads; }
  double kv_bytes() const { return 2.0 * kv_elements() * cuda::kv_element_bytes(type); }
};

}  // namespace

void kernel_sweep(const std::vector<int>& sizes, const std::vector<int>& head_dims, double copy_bw, int sm_count,
                  nlohmann::json* out) {
  std::printf("\n%-4s %-6s %-5s %-26s %10s %10s %9s\n", "d", "n", "kv", "kernel", "time_ms", "GB/s", "of_copy");
  for (int d : head_dims)
  for (int n : sizes) {
    for (KvType type : {KvType::kBF16, KvType::kF32}) {
      Batch b(32, 32, 8, n, d, type);
      const int64_t rows = b.rows();
      DeviceBuffer<double> output(rows * d), norm(rows), lognorm(rows), entropy(rows);
      DeviceBuffer<float> scores(rows * int64_t(n));
      std::vector<int64_t> score_offsets(rows + 1);
      for (int64_t r = 0; r <= rows; ++r) score_offsets[r] = r * n;
      DeviceBuffer<int64_t> d_score_offsets(rows + 1);
      upload(d_score_offsets, score_offsets);
      // Splits depend on the kernel variant; the workspace fits the largest.
      auto splits_for = [&](AccType acc, cuda::ReferenceKernel kernel) {
        return cuda::reference_splits(b.dw, acc, n, sm_count, kernel);
      };
      int max_splits = 1;
      for (AccType acc : {AccType::kF32, AccType::kF64})
        for (auto kernel : {cuda::ReferenceKernel::kAuto, cuda::ReferenceKernel::kCudaCores})
          max_splits = std::max(max_splits, splits_for(acc, kernel));
      DeviceBuffer<char> workspace(cuda::reference_workspace_bytes(b.dw, max_splits, AccType::kF64));
      cuda::ReferenceOutputs ref{output.ptr, norm.ptr, lognorm.ptr, entropy.ptr, nullptr, nullptr};
      // Bytes that must move: K and V once per call, the queries, the outputs (+ scores if written).
      const double base_bytes = b.kv_bytes() + rows * d * (4.0 + 8.0);
      // `splits`: of the reference pass the variant ran (or ran before it, for the sparse kernel).
      auto report = [&](const char* name, double seconds, double bytes, int splits) {
        const double bw = bytes / seconds;
        std::printf("%-4d %-6d %-5s %-26s %10.3f %10.1f %8.1f%%\n", d, n, cuda::kv_type_name(type), name, seconds * 1e3,
                    bw / 1e9, 100.0 * bw / copy_bw);
        (*out)["kernels"].push_back({{"head_dim", d}, {"n", n}, {"kv", cuda::kv_type_name(type)}, {"kernel", name}, {"seconds", seconds},
                                     {"bytes", bytes}, {"bandwidth_gbs", bw / 1e9}, {"fraction_of_copy", bw / copy_bw},
                                     {"splits", splits}});
      };
      // One reference variant: kernel choice, accumulator, rows in flight (CUDA cores), scores.
      auto reference = [&](const char* name, AccType acc, cuda::ReferenceKernel kernel, int rows_in_flight,
                           bool scores_too) {
        const int splits = splits_for(acc, kernel);
        cuda::ReferenceOutputs o = ref;
        if (scores_too) {
          o.scores = scores.ptr;
          o.score_offsets = d_score_offsets.ptr;
        }
        const double s =
            time_gpu([&] { cuda::launch_reference(b.dw, acc, splits, workspace.ptr, o, nullptr, kernel, rows_in_flight); });
        report(name, s, base_bytes + (scores_too ? 4.0 * rows * n : 0.0), splits);
      };
      using cuda::ReferenceKernel;
      const bool bf16 = type == KvType::kBF16;
      reference(bf16 ? "reference fp32 tensor" : "reference fp32-acc", AccType::kF32, ReferenceKernel::kAuto, 0, false);
      if (bf16) reference("reference fp32 cuda-core", AccType::kF32, ReferenceKernel::kCudaCores, 0, false);
      if (bf16 && std::getenv("ADRS_BENCH_SPLIT_SWEEP")) {  // how the split count moves the tensor-core kernel
        for (int sweep : {2, 3, 4, 6, 9, 12, 16, 24, 32}) {
          if (sweep > max_splits * 4 || sweep * 256 > n) continue;
          DeviceBuffer<char> ws(cuda::reference_workspace_bytes(b.dw, sweep, AccType::kF32));
          const double s = time_gpu([&] { cuda::launch_reference(b.dw, AccType::kF32, sweep, ws.ptr, ref, nullptr); });
          const std::string name = "  tensor, splits " + std::to_string(sweep);
          report(name.c_str(), s, base_bytes, sweep);
        }
      }
      reference("reference fp32-acc U2", AccType::kF32, ReferenceKernel::kCudaCores, 2, false);
      reference("reference fp64-acc", AccType::kF64, ReferenceKernel::kAuto, 0, false);
      reference(bf16 ? "reference+scores tensor" : "reference+scores fp32", AccType::kF32, ReferenceKernel::kAuto, 0, true);

      // Sparse: each row keeps a pseudo-random 10% of its keys (sorted, distinct, weight 1).
      std::vector<int64_t> offsets{0};
      std::vector<int32_t> indices;
      for (int64_t r = 0; r < rows; ++r) {
        for (int i = 0; i < n; ++i)
          if ((mix64(uint64_t(r) * 1000003 + i) % 1000) < 100) indices.push_back(i);
        offsets.push_back(int64_t(indices.size()));
      }
      std::vector<int32_t> first_block(rows + 1), block_row;
      for (int64_t r = 0; r < rows; ++r) {
        first_block[r] = int32_t(block_row.size());
        const int64_t blocks = (offsets[r + 1] - offsets[r] + cuda::kSparseBlockEntries - 1) / cuda::kSparseBlockEntries;
        for (int64_t k = 0; k < blocks; ++k) block_row.push_back(int32_t(r));
      }
      first_block[rows] = int32_t(block_row.size());
      DeviceBuffer<int64_t> d_offsets(offsets.size());
      DeviceBuffer<int32_t> d_indices(indices.size()), d_first(first_block.size()), d_block_row(block_row.size());
      upload(d_offsets, offsets);
      upload(d_indices, indices);
      upload(d_first, first_block);
      upload(d_block_row, block_row);
      DeviceBuffer<double> results(3 * rows);
      const cuda::DeviceSelections sel{d_offsets.ptr, d_indices.ptr, nullptr, d_block_row.ptr, d_first.ptr};
      const cuda::SparseOutputs sout{results.ptr, results.ptr + rows, results.ptr + 2 * rows};
      const int64_t blocks = int64_t(block_row.size());
      // Bytes it must gather: K and V rows of every kept entry, its index, the query and true output.
      const double entries = double(indices.size());
      const double gather = entries * (2.0 * d * cuda::kv_element_bytes(type) + 4.0) + rows * d * 12.0;
      for (AccType acc : {AccType::kF32, AccType::kF64}) {
        const int splits = splits_for(acc, cuda::ReferenceKernel::kAuto);
        cuda::launch_reference(b.dw, acc, splits, workspace.ptr, ref, nullptr);
        DeviceBuffer<char> sparse_ws(cuda::sparse_workspace_bytes(blocks, acc, d));
        const double s = time_gpu([&] {
          cuda::launch_sparse(b.dw, acc, sel, ref, 0, rows, 0, blocks, sparse_ws.ptr, sout, nullptr);
        });
        report(acc == AccType::kF32 ? "sparse10% fp32-acc" : "sparse10% fp64-acc", s, gather, splits);
      }
    }
  }
}

}  // namespace adrs::bench

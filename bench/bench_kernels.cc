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

// What every kernel variant of one sweep case (head dim d, n keys, kv type) shares: the batch, the
// reference pass's outputs and workspace, the bytes a reference pass must move, where rows go.
struct SweepCase {
  const Batch& b;
  int d, n, sm_count;
  KvType type;
  int64_t rows;
  double copy_bw;
  const cuda::ReferenceOutputs& ref;
  char* workspace;
  double base_bytes;
  nlohmann::json* out;

  // Splits depend on the kernel variant.
  int splits_for(AccType acc, cuda::ReferenceKernel kernel) const {
    return cuda::reference_splits(b.dw, acc, n, sm_count, kernel);
  }
  // `splits`: of the reference pass the variant ran (or ran before it, for the sparse kernel).
  void report(const char* name, double seconds, double bytes, int splits) const {
    const double bw = bytes / seconds;
    std::printf("%-4d %-6d %-5s %-26s %10.3f %10.1f %8.1f%%\n", d, n, cuda::kv_type_name(type), name, seconds * 1e3,
                bw / 1e9, 100.0 * bw / copy_bw);
    (*out)["kernels"].push_back({{"head_dim", d}, {"n", n}, {"kv", cuda::kv_type_name(type)}, {"kernel", name}, {"seconds", seconds},
                                 {"bytes", bytes}, {"bandwidth_gbs", bw / 1e9}, {"fraction_of_copy", bw / copy_bw},
                                 {"splits", splits}});
  }
};

// The split count of the reference variant that needs the most; the workspace fits it.
int max_reference_splits(const Batch& b, int n, int sm_count) {
  int max_splits = 1;
  for (AccType acc : {AccType::kF32, AccType::kF64})
    for (auto kernel : {cuda::ReferenceKernel::kAuto, cuda::ReferenceKernel::kCudaCores})
      max_splits = std::max(max_splits, cuda::reference_splits(b.dw, acc, n, sm_count, kernel));
  return max_splits;
}

// With ADRS_BENCH_SPLIT_SWEEP set: how the split count moves the tensor-core kernel.
void bench_split_sweep(const SweepCase& c, int max_splits) {
  for (int sweep : {2, 3, 4, 6, 9, 12, 16, 24, 32}) {
    if (sweep > max_splits * 4 || sweep * 256 > c.n) continue;
    DeviceBuffer<char> ws(cuda::reference_workspace_bytes(c.b.dw, sweep, AccType::kF32));
    const double s = time_gpu([&] { cuda::launch_reference(c.b.dw, AccType::kF32, sweep, ws.ptr, c.ref, nullptr); });
    const std::string name = "  tensor, splits " + std::to_string(sweep);
    c.report(name.c_str(), s, c.base_bytes, sweep);
  }
}

// Every reference variant: kernel choice, accumulator, rows in flight (CUDA cores), scores written
// to `scores` (CSR by `score_offsets`) or not.
void bench_reference_variants(const SweepCase& c, int max_splits, float* scores, int64_t* score_offsets) {
  using cuda::ReferenceKernel;
  auto reference = [&](const char* name, AccType acc, ReferenceKernel kernel, int rows_in_flight, bool scores_too) {
    const int splits = c.splits_for(acc, kernel);
    cuda::ReferenceOutputs o = c.ref;
    if (scores_too) {
      o.scores = scores;
      o.score_offsets = score_offsets;
    }
    const double s =
        time_gpu([&] { cuda::launch_reference(c.b.dw, acc, splits, c.workspace, o, nullptr, kernel, rows_in_flight); });
    c.report(name, s, c.base_bytes + (scores_too ? 4.0 * c.rows * c.n : 0.0), splits);
  };
  const bool bf16 = c.type == KvType::kBF16;
  reference(bf16 ? "reference fp32 tensor" : "reference fp32-acc", AccType::kF32, ReferenceKernel::kAuto, 0, false);
  if (bf16) reference("reference fp32 cuda-core", AccType::kF32, ReferenceKernel::kCudaCores, 0, false);
  if (bf16 && std::getenv("ADRS_BENCH_SPLIT_SWEEP")) bench_split_sweep(c, max_splits);
  reference("reference fp32-acc U2", AccType::kF32, ReferenceKernel::kCudaCores, 2, false);
  reference("reference fp64-acc", AccType::kF64, ReferenceKernel::kAuto, 0, false);
  reference(bf16 ? "reference+scores tensor" : "reference+scores fp32", AccType::kF32, ReferenceKernel::kAuto, 0, true);
}

// Host side of the sparse kernel's input: CSR selections and the row of every block of entries.
struct HostSelections {
  std::vector<int64_t> offsets{0};
  std::vector<int32_t> indices, first_block, block_row;
};

// Each row keeps a pseudo-random 10% of its keys (sorted, distinct, weight 1).
HostSelections ten_percent_selections(int64_t rows, int n) {
  HostSelections h;
  for (int64_t r = 0; r < rows; ++r) {
    for (int i = 0; i < n; ++i)
      if ((mix64(uint64_t(r) * 1000003 + i) % 1000) < 100) h.indices.push_back(i);
    h.offsets.push_back(int64_t(h.indices.size()));
  }
  h.first_block.resize(rows + 1);
  for (int64_t r = 0; r < rows; ++r) {
    h.first_block[r] = int32_t(h.block_row.size());
    const int64_t blocks = (h.offsets[r + 1] - h.offsets[r] + cuda::kSparseBlockEntries - 1) / cuda::kSparseBlockEntries;
    for (int64_t k = 0; k < blocks; ++k) h.block_row.push_back(int32_t(r));
  }
  h.first_block[rows] = int32_t(h.block_row.size());
  return h;
}

// The sparse kernel at 10% density, after the reference pass it reads (fp32 and fp64 accumulation).
void bench_sparse(const SweepCase& c) {
  const HostSelections h = ten_percent_selections(c.rows, c.n);
  DeviceBuffer<int64_t> d_offsets(h.offsets.size());
  DeviceBuffer<int32_t> d_indices(h.indices.size()), d_first(h.first_block.size()), d_block_row(h.block_row.size());
  upload(d_offsets, h.offsets);
  upload(d_indices, h.indices);
  upload(d_first, h.first_block);
  upload(d_block_row, h.block_row);
  DeviceBuffer<double> results(3 * c.rows);
  const cuda::DeviceSelections sel{d_offsets.ptr, d_indices.ptr, nullptr, d_block_row.ptr, d_first.ptr};
  const cuda::SparseOutputs sout{results.ptr, results.ptr + c.rows, results.ptr + 2 * c.rows};
  const int64_t blocks = int64_t(h.block_row.size());
  // Bytes it must gather: K and V rows of every kept entry, its index, the query and true output.
  const double entries = double(h.indices.size());
  const double gather = entries * (2.0 * c.d * cuda::kv_element_bytes(c.type) + 4.0) + c.rows * c.d * 12.0;
  for (AccType acc : {AccType::kF32, AccType::kF64}) {
    const int splits = c.splits_for(acc, cuda::ReferenceKernel::kAuto);
    cuda::launch_reference(c.b.dw, acc, splits, c.workspace, c.ref, nullptr);
    DeviceBuffer<char> sparse_ws(cuda::sparse_workspace_bytes(blocks, acc, c.d));
    const double s = time_gpu([&] {
      cuda::launch_sparse(c.b.dw, acc, sel, c.ref, 0, c.rows, 0, blocks, sparse_ws.ptr, sout, nullptr);
    });
    c.report(acc == AccType::kF32 ? "sparse10% fp32-acc" : "sparse10% fp64-acc", s, gather, splits);
  }
}

// One case of the sweep: a 32-layer batch of head dim d, n keys and K/V type `type`, every
// reference variant, then the sparse kernel.
void sweep_case(int d, int n, KvType type, double copy_bw, int sm_count, nlohmann::json* out) {
  Batch b(32, 32, 8, n, d, type);
  const int64_t rows = b.rows();
  DeviceBuffer<double> output(rows * d), norm(rows), lognorm(rows), entropy(rows);
  DeviceBuffer<float> scores(rows * int64_t(n));
  std::vector<int64_t> score_offsets(rows + 1);
  for (int64_t r = 0; r <= rows; ++r) score_offsets[r] = r * n;
  DeviceBuffer<int64_t> d_score_offsets(rows + 1);
  upload(d_score_offsets, score_offsets);
  const int max_splits = max_reference_splits(b, n, sm_count);
  DeviceBuffer<char> workspace(cuda::reference_workspace_bytes(b.dw, max_splits, AccType::kF64));
  const cuda::ReferenceOutputs ref{output.ptr, norm.ptr, lognorm.ptr, entropy.ptr, nullptr, nullptr};
  // Bytes that must move: K and V once per call, the queries, the outputs (+ scores if written).
  const double base_bytes = b.kv_bytes() + rows * d * (4.0 + 8.0);
  const SweepCase c{b, d, n, sm_count, type, rows, copy_bw, ref, workspace.ptr, base_bytes, out};
  bench_reference_variants(c, max_splits, scores.ptr, d_score_offsets.ptr);
  bench_sparse(c);
}

}  // namespace

void kernel_sweep(const std::vector<int>& sizes, const std::vector<int>& head_dims, double copy_bw, int sm_count,
                  nlohmann::json* out) {
  std::printf("\n%-4s %-6s %-5s %-26s %10s %10s %9s\n", "d", "n", "kv", "kernel", "time_ms", "GB/s", "of_copy");
  for (int d : head_dims)
    for (int n : sizes)
      for (KvType type : {KvType::kBF16, KvType::kF32}) sweep_case(d, n, type, copy_bw, sm_count, out);
}

}  // namespace adrs::bench

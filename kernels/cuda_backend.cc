// The CUDA evaluator backend (kernels/cuda_backend.h). Trusted side: it sees only validated,
// canonical selections.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <chrono>
#include <cmath>
#include <cstring>

#include "kernels/cuda_backend.h"
#include "kernels/attention.h"
#include "kernels/device_memory.h"
#include "util/parallel.h"

namespace adrs {
namespace {

using cuda::AccType;
using cuda::KvType;

// True when every float of data[0, count) is exactly representable in `type`.
bool exactly_representable(const float* data, int64_t count, KvType type) {
  constexpr int64_t kChunk = int64_t{1} << 22;
  std::atomic<bool> exact{true};
  parallel_for((count + kChunk - 1) / kChunk, 0, [&](int64_t c) {
    if (!exact.load(std::memory_order_relaxed)) return;
    const int64_t end = std::min(count, (c + 1) * kChunk);
    for (int64_t i = c * kChunk; i < end; ++i) {
      const float x = data[i];
      const float back = type == KvType::kBF16 ? __bfloat162float(__float2bfloat16(x)) : __half2float(__float2half(x));
      if (back != x) {
        exact = false;
        return;
      }
    }
  });
  return exact;
}

// Converts host floats to `type` into pinned staging memory and copies them to `device`.
Status upload_converted(const float* host, int64_t count, KvType type, void* device) {
  if (type == KvType::kF32) return cuda_check(cudaMemcpy(device, host, count * sizeof(float), cudaMemcpyHostToDevice), "upload");
  constexpr int64_t kChunk = int64_t{1} << 24;
  PinnedArray<uint16_t> staging;
  if (Status s = staging.allocate(std::min(count, kChunk)); !s.ok()) return s;
  for (int64_t begin = 0; begin < count; begin += kChunk) {
    const int64_t n = std::min(kChunk, count - begin);
    parallel_for((n + 65535) / 65536, 0, [&](int64_t part) {
      const int64_t end = std::min(n, (part + 1) * 65536);
      for (int64_t i = part * 65536; i < end; ++i) {
        const float x = host[begin + i];
        if (type == KvType::kBF16) {
          const __nv_bfloat16 b = __float2bfloat16(x);
          std::memcpy(&staging[i], &b, 2);
        } else {
          const __half h = __float2half(x);
          std::memcpy(&staging[i], &h, 2);
        }
      }
    });
    if (Status s = cuda_check(cudaMemcpy(static_cast<uint16_t*>(device) + begin, staging.data(), n * 2, cudaMemcpyHostToDevice), "upload");
        !s.ok())
      return s;
  }
  return Status::Ok();
}

class CudaBackend final : public Backend {
 public:
  CudaBackend(const Workload& w, int device) : w_(w), device_(device) {}
  ~CudaBackend() override {
    cudaSetDevice(device_);  // the streams, events and buffers below belong to it
    if (copy_stream_) cudaStreamDestroy(copy_stream_);
    if (compute_stream_) cudaStreamDestroy(compute_stream_);
    for (cudaEvent_t e : {start_, stop_}) if (e) cudaEventDestroy(e);
  }

  Status init(const CudaBackendOptions& options) {
    if (!cuda::supported_head_dim(w_.head_dim))
      return Status::Error("the CUDA backend supports head_dim " + std::string(cuda::supported_head_dims_text()) +
                           " (workload '" + w_.name + "' has " + std::to_string(w_.head_dim) + "); use --device cpu");
    if (!w_.has_values()) return Status::Error("the CUDA backend needs the workload's values");
    acc_ = options.fp64_accumulation ? AccType::kF64 : AccType::kF32;
    if (Status s = cuda_check(cudaSetDevice(device_), "cudaSetDevice"); !s.ok()) return s;
    if (Status s = cuda_check(cudaStreamCreateWithFlags(&copy_stream_, cudaStreamNonBlocking), "stream"); !s.ok()) return s;
    if (Status s = cuda_check(cudaStreamCreateWithFlags(&compute_stream_, cudaStreamNonBlocking), "stream"); !s.ok()) return s;
    if (Status s = cuda_check(cudaEventCreate(&start_), "event"); !s.ok()) return s;
    if (Status s = cuda_check(cudaEventCreate(&stop_), "event"); !s.ok()) return s;
    if (Status s = cuda_check(cudaDeviceGetAttribute(&sm_count_, cudaDevAttrMultiProcessorCount, device_), "device query"); !s.ok())
      return s;
    if (Status s = upload_workload(options.storage); !s.ok()) return s;
    return compute_reference();
  }

  std::string name() const override { return "cuda"; }
  std::string label() const override { return "cuda:" + std::to_string(device_); }
  const Reference& reference() const override { return ref_; }
  const CudaTimings& timings() const { return timings_; }

  Status sparse_errors(const Selections& sel, RowErrors* out) override {
    const auto start = std::chrono::steady_clock::now();
    if (Status s = cuda_check(cudaSetDevice(device_), "cudaSetDevice"); !s.ok()) return s;
    const int64_t rows = w_.num_rows();
    if (sel.num_rows() != rows) return Status::Error("selections have the wrong number of rows");
    const int64_t entries = sel.offsets.back();
    int64_t max_blocks = rows;  // a bound on the blocks: entries / block size + one per row
    max_blocks += entries / cuda::kSparseBlockEntries;
    if (Status s = ensure(offsets_, d_offsets_, rows + 1); !s.ok()) return s;
    if (Status s = ensure(indices_, d_indices_, std::max<int64_t>(entries, 1)); !s.ok()) return s;
    if (Status s = ensure(weights_, d_weights_, std::max<int64_t>(entries, 1)); !s.ok()) return s;
    if (Status s = ensure(row_first_block_, d_row_first_block_, rows + 1); !s.ok()) return s;
    if (Status s = ensure(block_row_, d_block_row_, std::max<int64_t>(max_blocks, 1)); !s.ok()) return s;
    if (Status s = ensure(results_, d_results_, 3 * rows); !s.ok()) return s;
    if (Status s = workspace_.reserve(cuda::sparse_workspace_bytes(std::max<int64_t>(max_blocks, 1), acc_, w_.head_dim)); !s.ok()) return s;
    pack(sel);
    timings_.pack_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    cuda::DeviceSelections dsel{d_offsets_.data(), d_indices_.data(), unit_weights_ ? nullptr : d_weights_.data(),
                                d_block_row_.data(), d_row_first_block_.data()};
    const cuda::SparseOutputs dout{d_results_.data(), d_results_.data() + rows, d_results_.data() + 2 * rows};
    // Row tables first, then the entries in chunks of rows so the copies overlap the kernels.
    cudaEventRecord(start_, copy_stream_);
    cudaMemsetAsync(d_results_.data(), 0xff, d_results_.bytes(), copy_stream_);
    cudaMemcpyAsync(d_offsets_.data(), offsets_.data(), (rows + 1) * sizeof(int64_t), cudaMemcpyHostToDevice, copy_stream_);
    cudaMemcpyAsync(d_row_first_block_.data(), row_first_block_.data(), (rows + 1) * sizeof(int32_t), cudaMemcpyHostToDevice, copy_stream_);
    cudaMemcpyAsync(d_block_row_.data(), block_row_.data(), total_blocks_ * sizeof(int32_t), cudaMemcpyHostToDevice, copy_stream_);
    const int chunks = rows >= 256 ? 8 : 1;
    std::vector<cudaEvent_t> ready(chunks);
    for (int c = 0; c < chunks; ++c) {
      const int64_t r0 = rows * c / chunks, r1 = rows * (c + 1) / chunks;
      const int64_t e0 = sel.offsets[r0], e1 = sel.offsets[r1];
      cudaMemcpyAsync(d_indices_.data() + e0, indices_.data() + e0, (e1 - e0) * sizeof(int32_t), cudaMemcpyHostToDevice, copy_stream_);
      if (!unit_weights_)
        cudaMemcpyAsync(d_weights_.data() + e0, weights_.data() + e0, (e1 - e0) * sizeof(float), cudaMemcpyHostToDevice, copy_stream_);
      cudaEventCreateWithFlags(&ready[c], cudaEventDisableTiming);
      cudaEventRecord(ready[c], copy_stream_);
      cudaStreamWaitEvent(compute_stream_, ready[c], 0);
      cuda::launch_sparse(dw_, acc_, dsel, reference_out_, r0, r1, row_first_block_[r0], row_first_block_[r1],
                          workspace_.data(), dout, compute_stream_);
    }
    cudaMemcpyAsync(results_.data(), d_results_.data(), 3 * rows * sizeof(double), cudaMemcpyDeviceToHost, compute_stream_);
    cudaEventRecord(stop_, compute_stream_);
    const Status synced = cuda_check(cudaStreamSynchronize(compute_stream_), "sparse attention");
    for (cudaEvent_t e : ready) cudaEventDestroy(e);
    if (!synced.ok()) return synced;
    float ms = 0.0f;
    cudaEventElapsedTime(&ms, start_, stop_);
    timings_.gpu_s = ms * 1e-3;
    out->error_sq.assign(results_.data(), results_.data() + rows);
    out->kept_mass.assign(results_.data() + rows, results_.data() + 2 * rows);
    out->weight_sum.assign(results_.data() + 2 * rows, results_.data() + 3 * rows);
    return Status::Ok();
  }

 private:
  Status upload_workload(CudaBackendOptions::Storage storage) {
    const int64_t kv = w_.kv_floats();
    using Storage = CudaBackendOptions::Storage;
    KvType type = storage == Storage::kBF16 ? KvType::kBF16 : storage == Storage::kF16 ? KvType::kF16 : KvType::kF32;
    if (storage == Storage::kAuto && exactly_representable(w_.keys_data(), kv, KvType::kBF16) &&
        exactly_representable(w_.values_data(), kv, KvType::kBF16))
      type = KvType::kBF16;
    timings_.storage = cuda::kv_type_name(type);
    const size_t bytes = kv * cuda::kv_element_bytes(type);
    if (Status s = keys_.allocate(bytes); !s.ok()) return s;
    if (Status s = values_.allocate(bytes); !s.ok()) return s;
    if (Status s = upload_converted(w_.keys_data(), kv, type, keys_.data()); !s.ok()) return s;
    if (Status s = upload_converted(w_.values_data(), kv, type, values_.data()); !s.ok()) return s;
    if (Status s = queries_.upload(w_.queries_data(), w_.query_floats()); !s.ok()) return s;
    std::vector<int64_t> kv_base;
    std::vector<int32_t> capacity, keys;
    for (const CallInfo& call : w_.calls) {
      kv_base.push_back(w_.layers[call.layer].kv_offset);
      capacity.push_back(w_.layers[call.layer].kv_capacity);
      keys.push_back(call.num_keys);
    }
    if (Status s = call_kv_base_.upload(kv_base.data(), kv_base.size()); !s.ok()) return s;
    if (Status s = call_capacity_.upload(capacity.data(), capacity.size()); !s.ok()) return s;
    if (Status s = call_keys_.upload(keys.data(), keys.size()); !s.ok()) return s;
    dw_.kv_type = type;
    dw_.head_dim = w_.head_dim;
    dw_.keys = keys_.data();
    dw_.values = values_.data();
    dw_.queries = queries_.data();
    dw_.call_kv_base = call_kv_base_.data();
    dw_.call_capacity = call_capacity_.data();
    dw_.call_keys = call_keys_.data();
    dw_.num_calls = static_cast<int>(w_.calls.size());
    dw_.num_q_heads = w_.num_q_heads;
    dw_.num_kv_heads = w_.num_kv_heads;
    dw_.scale = w_.scale;
    return Status::Ok();
  }

  Status compute_reference() {
    const int64_t rows = w_.num_rows();
    ref_.score_offsets = row_key_offsets(w_);
    const int64_t total_scores = ref_.score_offsets.back();
    DeviceArray<int64_t> score_offsets;
    DeviceArray<float> scores;
    if (Status s = score_offsets.upload(ref_.score_offsets.data(), ref_.score_offsets.size()); !s.ok()) return s;
    if (Status s = scores.allocate(total_scores); !s.ok()) return s;
    for (DeviceArray<double>* a : {&norm_sq_, &log_normalizer_, &entropy_})
      if (Status s = a->allocate(rows); !s.ok()) return s;
    if (Status s = output_.allocate(rows * w_.head_dim); !s.ok()) return s;
    int max_keys = 1;
    for (const CallInfo& call : w_.calls) max_keys = std::max(max_keys, call.num_keys);
    const int splits = cuda::reference_splits(dw_, acc_, max_keys, sm_count_);
    DeviceArray<char> workspace;
    if (Status s = workspace.allocate(cuda::reference_workspace_bytes(dw_, splits, acc_)); !s.ok()) return s;
    // Poison every output: anything the kernels fail to write shows up as NaN.
    for (auto [p, n] : {std::pair<void*, size_t>{scores.data(), scores.bytes()}, {output_.data(), output_.bytes()},
                        {norm_sq_.data(), norm_sq_.bytes()}, {log_normalizer_.data(), log_normalizer_.bytes()},
                        {entropy_.data(), entropy_.bytes()}})
      cudaMemsetAsync(p, 0xff, n, compute_stream_);
    reference_out_ = {output_.data(), norm_sq_.data(), log_normalizer_.data(), entropy_.data(), scores.data(), score_offsets.data()};
    cudaEventRecord(start_, compute_stream_);
    cuda::launch_reference(dw_, acc_, splits, workspace.data(), reference_out_, compute_stream_);
    cudaEventRecord(stop_, compute_stream_);
    if (Status s = cuda_check(cudaStreamSynchronize(compute_stream_), "reference attention"); !s.ok()) return s;
    float ms = 0.0f;
    cudaEventElapsedTime(&ms, start_, stop_);
    timings_.reference_gpu_s = ms * 1e-3;
    reference_out_.scores = nullptr;  // freed below: the masker reads the host copy
    reference_out_.score_offsets = nullptr;
    ref_.scores.resize(total_scores);
    ref_.output_norm_sq.resize(rows);
    ref_.log_normalizer.resize(rows);
    ref_.entropy.resize(rows);
    if (Status s = scores.download(ref_.scores.data(), total_scores); !s.ok()) return s;
    if (Status s = norm_sq_.download(ref_.output_norm_sq.data(), rows); !s.ok()) return s;
    if (Status s = log_normalizer_.download(ref_.log_normalizer.data(), rows); !s.ok()) return s;
    return entropy_.download(ref_.entropy.data(), rows);
  }

  // Packs the selections into pinned buffers, in parallel over rows.
  void pack(const Selections& sel) {
    const int64_t rows = w_.num_rows();
    int64_t blocks = 0;
    for (int64_t r = 0; r < rows; ++r) {
      row_first_block_[r] = static_cast<int32_t>(blocks);
      blocks += (sel.offsets[r + 1] - sel.offsets[r] + cuda::kSparseBlockEntries - 1) / cuda::kSparseBlockEntries;
    }
    row_first_block_[rows] = static_cast<int32_t>(blocks);
    total_blocks_ = blocks;
    std::memcpy(offsets_.data(), sel.offsets.data(), (rows + 1) * sizeof(int64_t));
    std::atomic<bool> unit_weights{true};
    constexpr int64_t kRowsPerTask = 64;
    parallel_for((rows + kRowsPerTask - 1) / kRowsPerTask, 0, [&](int64_t task) {
      const int64_t r0 = task * kRowsPerTask, r1 = std::min(rows, r0 + kRowsPerTask);
      const int64_t e0 = sel.offsets[r0], e1 = sel.offsets[r1];
      std::memcpy(&indices_[e0], &sel.indices[e0], (e1 - e0) * sizeof(int32_t));
      bool ones = true;
      for (int64_t e = e0; e < e1; ++e) {
        weights_[e] = static_cast<float>(sel.weights[e]);
        ones = ones && sel.weights[e] == 1.0;
      }
      if (!ones) unit_weights = false;
      for (int64_t r = r0; r < r1; ++r)
        for (int32_t b = row_first_block_[r]; b < row_first_block_[r + 1]; ++b) block_row_[b] = static_cast<int32_t>(r);
    });
    unit_weights_ = unit_weights;
  }

  template <typename T>
  Status ensure(PinnedArray<T>& host, DeviceArray<T>& device, int64_t count) {
    if (Status s = host.reserve(count); !s.ok()) return s;
    return device.reserve(count);
  }

  const Workload& w_;
  int device_ = 0;
  AccType acc_ = AccType::kF64;
  int sm_count_ = 1;
  cudaStream_t copy_stream_ = nullptr, compute_stream_ = nullptr;
  cudaEvent_t start_ = nullptr, stop_ = nullptr;
  Reference ref_;
  CudaTimings timings_;
  // The workload on the device.
  DeviceArray<char> keys_, values_;
  DeviceArray<float> queries_;
  DeviceArray<int64_t> call_kv_base_;
  DeviceArray<int32_t> call_capacity_, call_keys_;
  cuda::DeviceWorkload dw_;
  // Reference results kept on the device.
  DeviceArray<double> output_, norm_sq_, log_normalizer_, entropy_;
  cuda::ReferenceOutputs reference_out_;
  // Per-candidate buffers, grown as needed and reused.
  PinnedArray<int64_t> offsets_;
  PinnedArray<int32_t> indices_, row_first_block_, block_row_;
  PinnedArray<float> weights_;
  PinnedArray<double> results_;
  DeviceArray<int64_t> d_offsets_;
  DeviceArray<int32_t> d_indices_, d_row_first_block_, d_block_row_;
  DeviceArray<float> d_weights_;
  DeviceArray<double> d_results_;
  DeviceArray<char> workspace_;
  int64_t total_blocks_ = 0;
  bool unit_weights_ = true;
};

}  // namespace

Status cuda_device_status() {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e == cudaErrorNoDevice || e == cudaErrorInsufficientDriver)
    return Status::Error(std::string("no CUDA device or driver found (") + cudaGetErrorString(e) + ")");
  if (e != cudaSuccess) return Status::Error(std::string("no usable CUDA device (") + cudaGetErrorString(e) + ")");
  if (count == 0) return Status::Error("no CUDA device found");
  return Status::Ok();
}

int cuda_device_count() {
  int count = 0;
  return cudaGetDeviceCount(&count) == cudaSuccess ? count : 0;
}

Status select_cuda_device(int device) { return cuda_check(cudaSetDevice(device), "cudaSetDevice"); }

Status make_cuda_backend(const Workload& workload, const CudaBackendOptions& options, std::unique_ptr<Backend>* out) {
  if (Status s = cuda_device_status(); !s.ok()) return s;
  if (options.device < 0 || options.device >= cuda_device_count())
    return Status::Error("no CUDA device " + std::to_string(options.device) + " (this machine shows " +
                         std::to_string(cuda_device_count()) + "); see evaluation.devices");
  auto backend = std::make_unique<CudaBackend>(workload, options.device);
  if (Status s = backend->init(options); !s.ok()) return s;
  *out = std::move(backend);
  return Status::Ok();
}

CudaTimings cuda_backend_timings(const Backend& backend) {
  const auto* cuda = dynamic_cast<const CudaBackend*>(&backend);
  return cuda ? cuda->timings() : CudaTimings{};
}

}  // namespace adrs

// Host entry points of the attention kernels. Plain C++ (no CUDA types), so .cc files, tests and
// benchmarks can call them; every pointer in these structs is device memory unless noted.
//
// Two passes, both split into independent blocks and merged with a log-sum-exp reduction
// (flash-decoding):
//   reference decode: every row attends over all its n keys; optionally writes the oracle scores;
//   sparse attention: every row attends over its kept keys (CSR indices + estimator weights).
// K and V are fp32, bf16 or fp16; the accumulator is fp32 or fp64 (the evaluator uses fp64 so
// that the metrics match the CPU backend's double arithmetic). Every kernel is compiled for each
// head dimension in kHeadDims (the common sizes of published models) and picked at launch from
// DeviceWorkload::head_dim; a launch with another head_dim does nothing, so callers check
// supported_head_dim() first (the CUDA backend does, with a message that names the sizes).
#pragma once

#include <cstddef>
#include <cstdint>

namespace adrs::cuda {

// The head dimensions the kernels are built for; kMaxHeadDim bounds every per-row buffer.
constexpr int kHeadDims[] = {64, 80, 96, 128, 256};
constexpr int kMaxHeadDim = 256;
bool supported_head_dim(int head_dim);
const char* supported_head_dims_text();  // "64, 80, 96, 128, 256"

enum class KvType : int { kF32 = 0, kBF16 = 1, kF16 = 2 };
enum class AccType : int { kF32 = 0, kF64 = 1 };

size_t kv_element_bytes(KvType type);
const char* kv_type_name(KvType type);

// The shape of a workload on the device. A call's keys of kv head h start at element
// call_kv_base[call] + h * call_capacity[call] * head_dim of `keys` and `values`.
struct DeviceWorkload {
  KvType kv_type = KvType::kF32;
  int head_dim = 128;                 // one of kHeadDims
  const void* keys = nullptr;
  const void* values = nullptr;
  const float* queries = nullptr;     // [rows * head_dim], row = call * num_q_heads + head
  const int64_t* call_kv_base = nullptr;
  const int32_t* call_capacity = nullptr;
  const int32_t* call_keys = nullptr;  // n of each call
  int num_calls = 0;
  int num_q_heads = 0;
  int num_kv_heads = 0;
  float scale = 0.0f;
};

// What the reference pass leaves behind, per row (all device memory, written completely).
struct ReferenceOutputs {
  double* output = nullptr;           // true attention output [rows * head_dim]
  double* norm_sq = nullptr;          // ||o_true||^2
  double* log_normalizer = nullptr;   // log sum_i exp(s_i)
  double* entropy = nullptr;          // normalized attention entropy in [0, 1]
  float* scores = nullptr;            // optional: oracle logits, row r at score_offsets[r]
  const int64_t* score_offsets = nullptr;
};

// Which reference kernel: kAuto takes the tensor-core kernel for bf16 or fp16 K/V with fp32
// accumulation and the CUDA-core kernel otherwise; kCudaCores forces the latter (benchmark comparison).
enum class ReferenceKernel : int { kAuto = 0, kCudaCores = 1 };

// Number of key splits per call that fills a GPU of `sm_count` multiprocessors.
int reference_splits(const DeviceWorkload& w, AccType acc, int max_keys, int sm_count,
                     ReferenceKernel kernel = ReferenceKernel::kAuto);
// Bytes of scratch the reference pass needs for `splits`.
size_t reference_workspace_bytes(const DeviceWorkload& w, int splits, AccType acc);
// Enqueues the reference pass on `stream` (a cudaStream_t; nullptr: the default stream), with the
// `splits` that reference_splits gave for the same arguments. `rows_in_flight` (2 or 4; CUDA-core
// kernel only): K/V rows each subwarp loads per step; 0 picks 4 for fp32 and 2 for fp64
// accumulation (4 would spill registers there).
void launch_reference(const DeviceWorkload& w, AccType acc, int splits, void* workspace,
                      const ReferenceOutputs& out, void* stream, ReferenceKernel kernel = ReferenceKernel::kAuto,
                      int rows_in_flight = 0);

// Kept entries a sparse block handles; rows are cut into blocks of this many entries.
constexpr int kSparseBlockEntries = 512;

// One candidate's selections on the device, for rows [row_begin, row_end) of a launch.
struct DeviceSelections {
  const int64_t* offsets = nullptr;        // [rows + 1], CSR over all rows
  const int32_t* indices = nullptr;
  const float* weights = nullptr;          // nullptr: every weight is 1
  const int32_t* block_row = nullptr;      // row of each sparse block
  const int32_t* row_first_block = nullptr;  // [rows + 1]: first block of each row
};

// Per-row results of the sparse pass, matching RowErrors (device memory).
struct SparseOutputs {
  double* error_sq = nullptr;
  double* kept_mass = nullptr;
  double* weight_sum = nullptr;
};

size_t sparse_workspace_bytes(int64_t total_blocks, AccType acc, int head_dim);
// Enqueues the sparse pass for rows [row_begin, row_end), whose blocks are
// [row_first_block_host[row_begin], row_first_block_host[row_end]) (host values given as
// block_begin / block_end). `reference` holds output and log_normalizer of the reference pass.
void launch_sparse(const DeviceWorkload& w, AccType acc, const DeviceSelections& sel,
                   const ReferenceOutputs& reference, int64_t row_begin, int64_t row_end,
                   int64_t block_begin, int64_t block_end, void* workspace, const SparseOutputs& out,
                   void* stream);

// Fills `count` elements of `out` (of `type`) with a counter-based pseudo-random value per
// element: mean + stddev * (approximately normal), a pure function of (seed, index). For benchmarks.
void launch_fill_random(KvType type, void* out, int64_t count, uint64_t seed, float mean, float stddev,
                        void* stream);

// The last CUDA error as text, or "" when none (clears it).
const char* take_last_error();

}  // namespace adrs::cuda

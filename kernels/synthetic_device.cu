// Generates a synthetic preset on the GPU: the element functions of evaluator/synthetic_model.h,
// one thread per rotary pair, then the numbers go to host memory (the masker worker reads keys on
// the host). This file is compiled with -fmad=false so that the device evaluates the model's
// expressions exactly as the host does (see synthetic_model.h).
#include <cuda_runtime.h>

#include <memory>
#include <vector>

#include "kernels/cuda_backend.h"
#include "evaluator/synthetic.h"
#include "kernels/device_memory.h"

namespace adrs {
namespace {

// Keys and values of one layer: [kv_heads, capacity, head_dim] each.
__global__ void keys_values_kernel(synthetic::Params p, int layer, int32_t capacity, const double* sink, float* keys,
                                   float* values) {
  const int pairs = p.head_dim / 2;
  const int64_t total = int64_t{p.num_kv_heads} * capacity * pairs;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total; i += int64_t{gridDim.x} * blockDim.x) {
    const int pair = static_cast<int>(i % pairs);
    const int64_t key = i / pairs;  // kv_head * capacity + position
    const int32_t position = static_cast<int32_t>(key % capacity);
    const int kv_head = static_cast<int>(key / capacity);
    const int64_t at = key * p.head_dim + 2 * pair;
    synthetic::key_pair(p, layer, kv_head, position, pair, sink + int64_t{kv_head} * p.head_dim, keys + at);
    values[at] = synthetic::value_element(p, layer, kv_head, position, 2 * pair);
    values[at + 1] = synthetic::value_element(p, layer, kv_head, position, 2 * pair + 1);
  }
}

// Every query: `calls` holds (layer, step, num_keys) per call; `sink` is [layers, kv_heads, d].
__global__ void queries_kernel(synthetic::Params p, const int32_t* calls, int64_t rows, const double* sink,
                               float* queries) {
  const int pairs = p.head_dim / 2;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < rows * pairs; i += int64_t{gridDim.x} * blockDim.x) {
    const int pair = static_cast<int>(i % pairs);
    const int64_t row = i / pairs;
    const int64_t call = row / p.num_q_heads;
    const int head = static_cast<int>(row % p.num_q_heads);
    const int layer = calls[3 * call], step = calls[3 * call + 1], num_keys = calls[3 * call + 2];
    const int kv_head = head / (p.num_q_heads / p.num_kv_heads);
    const double* dir = sink + (int64_t{layer} * p.num_kv_heads + kv_head) * p.head_dim;
    synthetic::query_pair(p, layer, head, step, num_keys, pair, dir, queries + row * p.head_dim + 2 * pair);
  }
}

}  // namespace

Status make_synthetic_workload_on_device(const SyntheticPreset& preset, Workload* out) {
  Workload w = synthetic_layout(preset);
  if (Status s = check_host_memory(w); !s.ok()) return s;
  const synthetic::Params p = preset.params();
  const int64_t kv = w.kv_floats(), q = w.query_floats();
  // Host storage without zero-filling 2 x kv floats first.
  std::shared_ptr<float[]> storage(new (std::nothrow) float[2 * kv + q]);
  if (!storage) return Status::Error("out of host memory for workload '" + w.name + "'");
  float* keys = storage.get();
  float* values = keys + kv;
  float* queries = values + kv;

  // The sink directions (a sum over every dim each) are computed once, on the host.
  const int layers = static_cast<int>(w.layers.size());
  std::vector<double> sink(static_cast<size_t>(layers) * p.num_kv_heads * p.head_dim);
  for (int l = 0; l < layers; ++l)
    for (int h = 0; h < p.num_kv_heads; ++h)
      synthetic_sink_direction(preset, l, h, &sink[(static_cast<size_t>(l) * p.num_kv_heads + h) * p.head_dim]);
  DeviceArray<double> d_sink;
  if (Status s = d_sink.upload(sink.data(), sink.size()); !s.ok()) return s;

  int32_t most = 1;
  for (const LayerInfo& layer : w.layers) most = std::max(most, layer.kv_capacity);
  const int64_t layer_floats = int64_t{most} * p.num_kv_heads * p.head_dim;
  DeviceArray<float> d_keys, d_values;
  if (Status s = d_keys.allocate(layer_floats); !s.ok()) return s;
  if (Status s = d_values.allocate(layer_floats); !s.ok()) return s;
  constexpr int kThreads = 256, kBlocks = 4096;
  for (int l = 0; l < layers; ++l) {
    const LayerInfo& info = w.layers[l];
    const int64_t count = int64_t{info.kv_capacity} * p.num_kv_heads * p.head_dim;
    keys_values_kernel<<<kBlocks, kThreads>>>(p, l, info.kv_capacity, d_sink.data() + int64_t{l} * p.num_kv_heads * p.head_dim,
                                              d_keys.data(), d_values.data());
    if (Status s = cuda_check(cudaGetLastError(), "synthetic keys"); !s.ok()) return s;
    if (Status s = d_keys.download(keys + info.kv_offset, count); !s.ok()) return s;
    if (Status s = d_values.download(values + info.kv_offset, count); !s.ok()) return s;
  }

  std::vector<int32_t> calls;
  for (const CallInfo& c : w.calls) calls.insert(calls.end(), {c.layer, c.step, c.num_keys});
  DeviceArray<int32_t> d_calls;
  DeviceArray<float> d_queries;
  if (Status s = d_calls.upload(calls.data(), calls.size()); !s.ok()) return s;
  if (Status s = d_queries.allocate(q); !s.ok()) return s;
  queries_kernel<<<kBlocks, kThreads>>>(p, d_calls.data(), w.num_rows(), d_sink.data(), d_queries.data());
  if (Status s = cuda_check(cudaGetLastError(), "synthetic queries"); !s.ok()) return s;
  if (Status s = d_queries.download(queries, q); !s.ok()) return s;

  w.attach(storage, keys, values, queries);
  if (Status s = w.check_shape(); !s.ok()) return s;
  *out = std::move(w);
  return Status::Ok();
}

}  // namespace adrs

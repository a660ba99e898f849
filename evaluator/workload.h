// Workload: the queries, keys and values an evaluation scores maskers on.
//
// A workload has layers; each layer holds a KV cache of `kv_capacity` keys per kv head. A call is
// one (layer, decode step): it attends over the first `num_keys` keys of its layer's cache with
// one query per query head. A row is one query head of one call: row = call * num_q_heads + head.
// Query head h reads kv head h / (num_q_heads / num_kv_heads) (grouped-query attention).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "util/status.h"

namespace adrs {

struct LayerInfo {
  int32_t kv_capacity;  // keys stored per kv head
  int32_t reserved;
  int64_t kv_offset;    // float offset of (kv head 0, key 0) in the keys / values arrays
};

struct CallInfo {
  int32_t layer;
  int32_t step;
  int32_t num_keys;  // n for every row of this call (<= the layer's kv_capacity)
  int32_t reserved;
};

struct RowInfo {
  int64_t call;
  int32_t head;
  int32_t kv_head;
};

class Workload {
 public:
  std::string name;
  uint64_t seed = 0;
  int32_t head_dim = 0;
  int32_t num_q_heads = 0;
  int32_t num_kv_heads = 0;
  float scale = 0.0f;
  std::vector<LayerInfo> layers;
  std::vector<CallInfo> calls;

  int64_t num_rows() const { return static_cast<int64_t>(calls.size()) * num_q_heads; }
  RowInfo row_info(int64_t row) const;
  int32_t num_keys(int64_t row) const { return calls[row / num_q_heads].num_keys; }

  // Pointers into the storage. values() is nullptr when the workload was loaded without them.
  const float* query(int64_t row) const { return queries_ + row * head_dim; }
  const float* keys(int64_t row) const { return key_block(row, keys_); }
  const float* values(int64_t row) const { return values_ ? key_block(row, values_) : nullptr; }
  bool has_values() const { return values_ != nullptr; }

  // Counts of floats in each array (for serialization).
  int64_t kv_floats() const;
  int64_t query_floats() const { return num_rows() * head_dim; }

  const float* keys_data() const { return keys_; }
  const float* values_data() const { return values_; }
  const float* queries_data() const { return queries_; }

  // Points the workload at storage kept alive by `owner` (a vector holder, a file mapping).
  void attach(std::shared_ptr<const void> owner, const float* keys, const float* values,
              const float* queries);

  // Checks the tables against each other (head counts divide, every call fits its layer).
  Status check_shape() const;

 private:
  const float* key_block(int64_t row, const float* base) const;

  std::shared_ptr<const void> owner_;
  const float* keys_ = nullptr;
  const float* values_ = nullptr;
  const float* queries_ = nullptr;
};

// The named workloads, in the order `adrs eval --help` lists them: the synthetic presets
// (evaluator/synthetic.h) with their held-out twins, then the shipped traces "longlm" and "tinylm".
std::vector<std::string> workload_preset_names();

// Builds a named workload: a synthetic preset, a shipped trace ("longlm", "tinylm": workloads/<name>.safetensors), or a trace
// file path ending in .safetensors (evaluator/trace.h). Fails with a message naming the choices.
Status make_workload(const std::string& name, Workload* out);
// The same, with the synthetic presets' value secret given (nullptr: the per-user secret; see
// load_value_secret in evaluator/synthetic.h). Traces ignore it.
Status make_workload(const std::string& name, const uint64_t* value_secret, Workload* out);

}  // namespace adrs

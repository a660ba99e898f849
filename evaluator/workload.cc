#include "evaluator/workload.h"

#include "evaluator/synthetic.h"
#include "evaluator/trace.h"

namespace adrs {

RowInfo Workload::row_info(int64_t row) const {
  RowInfo info;
  info.call = row / num_q_heads;
  info.head = static_cast<int32_t>(row % num_q_heads);
  info.kv_head = info.head / (num_q_heads / num_kv_heads);
  return info;
}

int64_t Workload::kv_floats() const {
  int64_t total = 0;
  for (const LayerInfo& layer : layers) total += int64_t{layer.kv_capacity} * num_kv_heads * head_dim;
  return total;
}

const float* Workload::key_block(int64_t row, const float* base) const {
  const RowInfo info = row_info(row);
  const LayerInfo& layer = layers[calls[info.call].layer];
  return base + layer.kv_offset + int64_t{info.kv_head} * layer.kv_capacity * head_dim;
}

void Workload::attach(std::shared_ptr<const void> owner, const float* keys, const float* values,
                      const float* queries) {
  owner_ = std::move(owner);
  keys_ = keys;
  values_ = values;
  queries_ = queries;
}

Status Workload::check_shape() const {
  if (head_dim <= 0 || num_q_heads <= 0 || num_kv_heads <= 0 || num_q_heads % num_kv_heads != 0)
    return Status::Error("workload '" + name + "': head counts must be positive and the query heads a multiple of the kv heads");
  int64_t expected_offset = 0;
  for (const LayerInfo& layer : layers) {
    if (layer.kv_capacity <= 0 || layer.kv_offset != expected_offset)
      return Status::Error("workload '" + name + "': layer table is inconsistent");
    expected_offset += int64_t{layer.kv_capacity} * num_kv_heads * head_dim;
  }
  for (const CallInfo& call : calls) {
    if (call.layer < 0 || call.layer >= static_cast<int32_t>(layers.size()) || call.num_keys <= 0 ||
        call.num_keys > layers[call.layer].kv_capacity)
      return Status::Error("workload '" + name + "': a call does not fit its layer's KV cache");
  }
  return Status::Ok();
}

// ---- presets and traces -----------------------------------------------------------------------

// Real traces shipped in workloads/<name>.safetensors (docs/WORKLOADS.md): a small trained
// model's (tinylm, a toy) and a larger long-context one's (longlm, docs/TRACE_longlm.md).
const char* const kShippedTraces[] = {"longlm", "tinylm"};

std::vector<std::string> workload_preset_names() {
  std::vector<std::string> names;
  for (const SyntheticPreset& p : synthetic_presets()) names.emplace_back(p.name);
  for (const char* trace : kShippedTraces) names.emplace_back(trace);
  return names;
}

Status make_workload(const std::string& name, Workload* out) { return make_workload(name, nullptr, out); }

Status make_workload(const std::string& name, const uint64_t* value_secret, Workload* out) {
  if (const SyntheticPreset* preset = find_synthetic_preset(name)) {
    SyntheticPreset p;
    if (Status s = with_value_secret(*preset, value_secret, &p); !s.ok()) return s;
    return make_synthetic_workload(p, out);
  }
  for (const char* trace : kShippedTraces) {
    if (name != trace) continue;
    const std::string file = name + ".safetensors";
    if (Status s = load_trace(shipped_workloads_dir() + "/" + file, out); !s.ok())
      return Status::Error("workload '" + name + "': " + s.message() + " (set ADRS_WORKLOADS_DIR to the folder holding " +
                           file + ")");
    out->name = name;
    return Status::Ok();
  }
  if (is_trace_path(name)) return load_trace(name, out);
  std::string known;
  for (const std::string& n : workload_preset_names()) known += (known.empty() ? "" : ", ") + n;
  return Status::Error("unknown workload '" + name + "'; choose one of: " + known +
                       ", or a trace file path ending in .safetensors");
}

}  // namespace adrs

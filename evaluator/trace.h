// Attention traces recorded from real models: a safetensors file (docs/WORKLOADS.md, "Trace
// format") written by tools/dump_attention_trace.py and read here into a Workload.
//
// Tensors, for each entry i = 0, 1, ... (an entry is one layer of one prompt):
//   layer.i.keys     [kv_heads, capacity, d]  BF16, F16 or F32 (after RoPE, as attention reads them)
//   layer.i.values   [kv_heads, capacity, d]  same dtypes
//   layer.i.queries  [steps, q_heads, d]      same dtypes
//   layer.i.num_keys [steps]                  I32 or I64, each in [1, capacity]
// Metadata: format = "adrs-attention-trace", version = "1"; optional name, scale (the logit scale,
// default 1/sqrt(d)), model, entries, prompts.
#pragma once

#include <string>

#include "evaluator/workload.h"
#include "util/status.h"

namespace adrs {

// True when a --workload value names a trace file rather than a preset.
bool is_trace_path(const std::string& workload);

// Loads a trace into `out` (values converted to float32). Every malformed file (truncated, bad
// header, unknown dtype, missing tensor, inconsistent shapes, non-finite numbers) gives an error
// that names the file, the tensor and the problem.
Status load_trace(const std::string& path, Workload* out);

// Where the shipped traces live: $ADRS_WORKLOADS_DIR, else <source dir>/workloads.
std::string shipped_workloads_dir();

}  // namespace adrs

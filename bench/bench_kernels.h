// The parts of adrs-bench (bench_main.cc): each measures one thing and adds it to a JSON report.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace adrs::bench {

// Device-to-device copy of 2 GiB; returns bytes read + written per second (the ceiling).
double copy_bandwidth(nlohmann::json* out);

// Reference decode and 10%-density sparse kernels at each head dimension d and key count n (32
// layers x 32 q heads x 8 kv heads, bf16 and fp32 K/V), as achieved bandwidth and its fraction of
// `copy_bw`.
void kernel_sweep(const std::vector<int>& sizes, const std::vector<int>& head_dims, double copy_bw, int sm_count,
                  nlohmann::json* out);

struct LargeOptions {
  int layers = 32, steps = 8, capacity = 32768;
  std::string dump_dir;  // "" : no dump for bench/torch_reference.py
};

// Per-candidate evaluation time through the CUDA backend on the `large` shape.
void large_candidates(const LargeOptions& options, nlohmann::json* out);

// Evaluator::Create and two evaluate_source() calls of `masker_path` on `preset`, device cuda.
void end_to_end(const std::string& preset, const std::vector<std::string>& masker_paths, nlohmann::json* out);

// Scoring throughput over 1, 2, 4, ... GPUs (up to max_gpus and the visible ones) on `preset`.
void scoring_scaling(const std::string& preset, int max_gpus, int calls_per_gpu, nlohmann::json* out);

}  // namespace adrs::bench

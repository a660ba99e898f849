// WorkloadStats: what `adrs workload info` shows about a workload's true attention: its shape and
// memory, the spread over rows of normalized entropy, first-key, sink, local and top-10% mass, and
// the mean mass on the first key per layer (real models: 0.3-0.9 in most heads after layer 1).
#pragma once

#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>

#include "evaluator/backend.h"
#include "evaluator/workload.h"

namespace adrs {

inline constexpr int kStatsSinkKeys = 4;    // sink mass: attention on keys [0, 4)
inline constexpr int kStatsLocalKeys = 64;  // local mass: attention on the newest 64 keys

struct Spread {
  double mean = 0.0, p10 = 0.0, p50 = 0.0, p90 = 0.0, min = 0.0, max = 0.0;
};

// The spread of `values` (any order; empty gives zeros).
Spread spread_of(std::vector<double> values);

struct WorkloadStats {
  int64_t rows = 0;
  int32_t min_keys = 0, max_keys = 0;
  double memory_bytes = 0.0;  // keys, values and queries as float32
  Spread entropy;             // attention entropy / log(n)
  Spread first_key_mass;      // probability on key 0 (the attention sink of trained models)
  std::vector<double> first_key_mass_by_layer;  // mean over the rows of each layer
  Spread sink_mass;           // probability on the first kStatsSinkKeys keys
  Spread local_mass;          // probability on the newest kStatsLocalKeys keys
  Spread top10_mass;          // probability on the 10% highest-scoring keys (what oracle top-k keeps)
};

WorkloadStats compute_workload_stats(const Workload& workload, const Reference& reference);

nlohmann::json stats_to_json(const Workload& workload, const WorkloadStats& stats);

}  // namespace adrs

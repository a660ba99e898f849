// The synthetic attention model behind the presets smoke, default and large (and their held-out
// twins). docs/WORKLOADS.md describes the model and every constant.
//
// Every number is a pure function of (seed, layer, head, position or step, dim) through
// counter-based hashing (splitmix64 -> two 24-bit uniforms -> Box-Muller), never a sequential
// random stream, so a GPU kernel can generate any key, value or query independently and get the
// same workload (up to the last bit of log/cos/sin in float64).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "evaluator/workload.h"
#include "util/status.h"

namespace adrs {

struct SyntheticPreset {
  const char* name;
  uint64_t seed;
  std::vector<int32_t> layer_context;  // keys at the last logged decode step, per layer
  int32_t steps;                       // logged decode steps per layer
  int32_t step_stride;                 // keys between consecutive logged decode steps
  int32_t num_q_heads;
  int32_t num_kv_heads;
  int32_t head_dim;                    // even (rotary pairs)
  bool gpu_sized;                      // too large to be practical on a CPU (large, large-heldout)
};

// The preset table, in the order `adrs eval --help` lists the names.
const std::vector<SyntheticPreset>& synthetic_presets();
// nullptr when `name` is not a synthetic preset.
const SyntheticPreset* find_synthetic_preset(const std::string& name);

// ---- the counter-based primitives (what a GPU port reproduces) ----------------------------------
// Stream tags keep the hashed streams apart.
enum SyntheticTag : uint32_t {
  kTagKey = 1, kTagTopic = 2, kTagValue = 3, kTagValueMean = 4, kTagSinkDir = 5, kTagLocalDir = 6,
  kTagHead = 7, kTagQueryNoise = 8, kTagTarget = 9, kTagValueSign = 10,
};
// 64 hashed bits of (seed, tag, a, b, c, dim); a, b < 2^16, dim < 2^24.
uint64_t synthetic_hash(uint64_t seed, uint32_t tag, uint32_t a, uint32_t b, uint32_t c, uint32_t dim);
// Uniform in (0, 1) from the top 24 bits of the hash.
double synthetic_uniform(uint64_t seed, uint32_t tag, uint32_t a, uint32_t b, uint32_t c, uint32_t dim);
// Standard normal: Box-Muller on the hash's two 24-bit halves.
double synthetic_normal(uint64_t seed, uint32_t tag, uint32_t a, uint32_t b, uint32_t c, uint32_t dim);

// A query head's character; all logit boosts are in units of the attention logit.
struct SyntheticHead {
  int kind;               // 0 local, 1 retrieval, 2 broad, 3 mixed (peaked by noise)
  double sink_logit;      // S: boost of the first sink key (sink key i gets S / (i + 1))
  double local_logit;     // L: boost of the newest key, decaying with distance through RoPE
  double retrieval_logit; // R: boost of each retrieval target
  int retrieval_targets;  // T
  double noise;           // tau: scale of the random query part
  double temperature;     // multiplies everything above
};
SyntheticHead synthetic_head(const SyntheticPreset& p, int layer, int head, int num_keys);

// Key and value `position` of (layer, kv head): `head_dim` floats each, keys after RoPE.
void synthetic_key(const SyntheticPreset& p, int layer, int kv_head, int32_t position, float* key);
void synthetic_value(const SyntheticPreset& p, int layer, int kv_head, int32_t position, float* value);
// The query of (layer, query head) at decode `step`, attending over `num_keys` keys (its own
// position is num_keys - 1), after RoPE.
void synthetic_query(const SyntheticPreset& p, int layer, int head, int step, int32_t num_keys, float* query);

// Builds the whole workload on the host (all cores). Fails with a clear message when it would not
// fit in this machine's memory.
Status make_synthetic_workload(const SyntheticPreset& p, Workload* out);

}  // namespace adrs

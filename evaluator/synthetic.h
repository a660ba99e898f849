// The synthetic attention model behind the presets smoke, default and long (and their held-out
// twins). docs/WORKLOADS.md describes the model and every constant.
//
// Every number is a pure function of its coordinates (evaluator/synthetic_model.h), so a GPU
// kernel can generate any key, value or query independently and get the same workload.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "evaluator/synthetic_model.h"
#include "evaluator/workload.h"
#include "util/status.h"

namespace adrs {

struct SyntheticPreset {
  const char* name;
  uint64_t seed;                       // public: keys and queries derive from it alone
  std::vector<int32_t> layer_context;  // keys at the last logged decode step, per layer
  int32_t steps;                       // logged decode steps per layer
  int32_t step_stride;                 // keys between consecutive logged decode steps
  int32_t num_q_heads;
  int32_t num_kv_heads;
  int32_t head_dim;                    // even (rotary pairs)
  bool gpu_sized;                      // too large to be practical on a CPU (long, long-heldout)
  bool bf16_kv;                        // keys and values rounded to bfloat16 (long, long-heldout)
  uint64_t value_secret;               // 0 in the table; with_value_secret() sets it before generating

  synthetic::Params params() const { return {seed, head_dim, num_q_heads, num_kv_heads, bf16_kv, value_secret}; }
};

// The preset table, in the order `adrs eval --help` lists the names.
const std::vector<SyntheticPreset>& synthetic_presets();
// nullptr when `name` is not a synthetic preset ("large" and "large-heldout" are aliases of
// "long" and "long-heldout").
const SyntheticPreset* find_synthetic_preset(const std::string& name);

// ---- the value secret ----------------------------------------------------------------------------
// Keys and queries are a public function of the preset's seed, but the values (what the error is
// measured on) also depend on a 64-bit secret, so a masker that reads this source and the seed
// cannot rebuild them. By default it is per user: `value_secret_dir()/value_secret` (8 random
// bytes from getrandom, created mode 0600 on first use; the sandboxed worker cannot read it). It
// does not follow ADRS_CACHE_DIR, which tests and scripts point at private compile caches: every
// command of one user (run, resume, replay, eval) must see the same values. An evaluation can set
// it explicitly (EvalOptions::value_secret) to reproduce numbers on another machine.
inline constexpr const char* kValueSecretFile = "value_secret";
// Reads `dir`/value_secret, creating `dir` and the file (0600, fresh random bytes) when missing.
// Fails on a file that is not exactly 8 bytes or is readable by others, naming the fix.
Status load_value_secret(const std::string& dir, uint64_t* out);
// $XDG_CACHE_HOME/adrs, else $HOME/.cache/adrs, else default_cache_dir().
std::string value_secret_dir();
// The preset with its value secret: `secret` when given, else load_value_secret(value_secret_dir()).
Status with_value_secret(const SyntheticPreset& preset, const uint64_t* secret, SyntheticPreset* out);

// ---- the counter-based primitives (evaluator/synthetic_model.h has the element functions) ----------
using synthetic::Tag;
using synthetic::kTagKey;
double synthetic_normal(uint64_t seed, uint32_t tag, uint32_t a, uint32_t b, uint32_t c, uint32_t dim);
// The unit sink direction of (layer, kv head): `head_dim` doubles (in the rotated space: sinks
// attract queries at every position).
void synthetic_sink_direction(const SyntheticPreset& p, int layer, int kv_head, double* out);

// Key and value `position` of (layer, kv head): `head_dim` floats each, keys after RoPE.
void synthetic_key(const SyntheticPreset& p, int layer, int kv_head, int32_t position, float* key);
void synthetic_value(const SyntheticPreset& p, int layer, int kv_head, int32_t position, float* value);
// The query of (layer, query head) at decode `step`, attending over `num_keys` keys (its own
// position is num_keys - 1), after RoPE.
void synthetic_query(const SyntheticPreset& p, int layer, int head, int step, int32_t num_keys, float* query);

// The tables of the workload (layers, calls, scale) without the numbers.
Workload synthetic_layout(const SyntheticPreset& p);

// Ok when the keys, values and queries of `layout` fit in 60% of this machine's memory.
Status check_host_memory(const Workload& layout);

// Builds the whole workload on the host (all cores) with the preset's value_secret as given. Fails
// with a clear message when it would not fit in this machine's memory.
Status make_synthetic_workload(const SyntheticPreset& p, Workload* out);

}  // namespace adrs

#include "evaluator/workload.h"

#include <cmath>
#include <random>

#include "util/hash.h"
#include "util/parallel.h"

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

// ---- synthetic generator ---------------------------------------------------------------------
//
// v0 model (deterministic in the seed). Keys are Gaussian plus two structured parts that make
// attention look like a model's: a shared "sink" direction on the first few keys, and sinusoidal
// position features (a relative-position preference like rotary embeddings give). Each query head
// mixes a sink term, a recency term, a retrieval term (the mean of a few earlier keys) and noise,
// with strengths drawn per head, so rows range from peaked to nearly flat. Values are a per-head
// mean plus Gaussian noise, so no output is near zero.
namespace {

struct Preset {
  const char* name;
  uint64_t seed;
  std::vector<int32_t> layer_context;  // keys at the last decode step, per layer
  int32_t steps;
  int32_t step_stride;                 // keys between consecutive logged decode steps
  int32_t num_q_heads;
  int32_t num_kv_heads;
  int32_t head_dim;
};

const std::vector<Preset>& presets() {
  static const std::vector<Preset> table = {
      {"smoke", 11, {512, 768}, 2, 16, 4, 2, 128},
      {"default", 23, {2048, 3072, 4096, 6144}, 4, 64, 8, 2, 128},
  };
  return table;
}

constexpr int kSinkKeys = 4;
constexpr int kPositionDims = 32;  // dims carrying position features (pairs of sin/cos)

// Position features of key position p: pairs (cos, sin)(p * w_j), w_j geometric in j.
void position_features(int64_t position, float* out) {
  for (int j = 0; j < kPositionDims / 2; ++j) {
    const double w = std::pow(0.5, 1.0 + 0.6 * j);
    out[2 * j] = static_cast<float>(std::cos(position * w));
    out[2 * j + 1] = static_cast<float>(std::sin(position * w));
  }
}

struct Storage {
  std::vector<float> keys, values, queries;
};

void fill_layer_kv(const Preset& p, int layer, const LayerInfo& info, Storage& s) {
  const int d = p.head_dim;
  for (int h = 0; h < p.num_kv_heads; ++h) {
    std::mt19937_64 rng(combine_seed(p.seed, 1000 * layer + h));
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> sink_dir(d), value_mean(d);
    for (float& x : sink_dir) x = normal(rng);
    for (float& x : value_mean) x = normal(rng);
    float pos[kPositionDims];
    for (int64_t i = 0; i < info.kv_capacity; ++i) {
      float* k = &s.keys[info.kv_offset + (int64_t{h} * info.kv_capacity + i) * d];
      float* v = &s.values[info.kv_offset + (int64_t{h} * info.kv_capacity + i) * d];
      for (int j = 0; j < d; ++j) k[j] = normal(rng);
      position_features(i, pos);
      for (int j = 0; j < kPositionDims; ++j) k[j] += 2.0f * pos[j];
      if (i < kSinkKeys)
        for (int j = 0; j < d; ++j) k[j] += 1.5f * sink_dir[j];
      for (int j = 0; j < d; ++j) v[j] = value_mean[j] + 0.8f * normal(rng);
    }
  }
}

void fill_query(const Preset& p, const Workload& w, int64_t row, Storage& s) {
  const int d = p.head_dim;
  const RowInfo info = w.row_info(row);
  const CallInfo& call = w.calls[info.call];
  const LayerInfo& layer = w.layers[call.layer];
  const float* keys = &s.keys[layer.kv_offset + int64_t{info.kv_head} * layer.kv_capacity * d];
  // Head character is fixed per (layer, head); the noise differs per step.
  std::mt19937_64 head_rng(combine_seed(p.seed, 7919 * call.layer + info.head + 1));
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  const float sink = 0.6f * unit(head_rng) * unit(head_rng);
  const float recency = 1.2f * unit(head_rng);
  const float retrieval = unit(head_rng) < 0.5f ? 3.0f * unit(head_rng) : 0.0f;
  const float temperature = 0.15f + 2.2f * unit(head_rng) * unit(head_rng);

  std::mt19937_64 rng(combine_seed(p.seed, 31 * row + 17));
  std::normal_distribution<float> normal(0.0f, 1.0f);
  float* q = &s.queries[row * d];
  for (int j = 0; j < d; ++j) q[j] = temperature * normal(rng);
  // Sink: the mean of the sink keys points along the sink direction.
  for (int i = 0; i < kSinkKeys; ++i)
    for (int j = 0; j < d; ++j) q[j] += sink * keys[int64_t{i} * d + j] / kSinkKeys;
  float pos[kPositionDims];
  position_features(call.num_keys - 1, pos);
  for (int j = 0; j < kPositionDims; ++j) q[j] += recency * pos[j];
  if (retrieval > 0.0f) {
    std::uniform_int_distribution<int32_t> pick(kSinkKeys, call.num_keys - 1);
    const int targets = 1 + static_cast<int>(4 * unit(rng));
    for (int t = 0; t < targets; ++t) {
      const float* k = &keys[int64_t{pick(rng)} * d];
      for (int j = 0; j < d; ++j) q[j] += retrieval * k[j] / targets;
    }
  }
}

}  // namespace

std::vector<std::string> workload_preset_names() {
  std::vector<std::string> names;
  for (const Preset& p : presets()) names.emplace_back(p.name);
  return names;
}

Status make_workload(const std::string& name, Workload* out) {
  const Preset* preset = nullptr;
  for (const Preset& p : presets())
    if (name == p.name) preset = &p;
  if (!preset) {
    std::string known;
    for (const std::string& n : workload_preset_names()) known += (known.empty() ? "" : ", ") + n;
    return Status::Error("unknown workload '" + name + "'; choose one of: " + known);
  }
  const Preset& p = *preset;
  Workload& w = *out;
  w = Workload();
  w.name = p.name;
  w.seed = p.seed;
  w.head_dim = p.head_dim;
  w.num_q_heads = p.num_q_heads;
  w.num_kv_heads = p.num_kv_heads;
  w.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(p.head_dim)));
  int64_t offset = 0;
  for (size_t l = 0; l < p.layer_context.size(); ++l) {
    w.layers.push_back({p.layer_context[l], 0, offset});
    offset += int64_t{p.layer_context[l]} * p.num_kv_heads * p.head_dim;
    for (int32_t s = 0; s < p.steps; ++s) {
      const int32_t n = p.layer_context[l] - (p.steps - 1 - s) * p.step_stride;
      w.calls.push_back({static_cast<int32_t>(l), s, n, 0});
    }
  }
  auto storage = std::make_shared<Storage>();
  storage->keys.resize(offset);
  storage->values.resize(offset);
  storage->queries.resize(w.query_floats());
  parallel_for(static_cast<int64_t>(w.layers.size()), 0,
               [&](int64_t l) { fill_layer_kv(p, static_cast<int>(l), w.layers[l], *storage); });
  parallel_for(w.num_rows(), 0, [&](int64_t row) { fill_query(p, w, row, *storage); });
  w.attach(storage, storage->keys.data(), storage->values.data(), storage->queries.data());
  return w.check_shape();
}

}  // namespace adrs

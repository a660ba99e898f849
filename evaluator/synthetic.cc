#include "evaluator/synthetic.h"

#include <unistd.h>

#include <cmath>
#include <memory>

#include "util/hash.h"
#include "util/parallel.h"

namespace adrs {

const std::vector<SyntheticPreset>& synthetic_presets() {
  // Held-out twins: the same shape and distribution, other seeds.
  static const std::vector<SyntheticPreset> table = {
      {"smoke", 11, {512, 768}, 2, 16, 4, 2, 128, false},
      {"smoke-heldout", 1011, {512, 768}, 2, 16, 4, 2, 128, false},
      {"default", 23, {2048, 3072, 4096, 5120, 6144, 8192}, 4, 64, 8, 2, 128, false},
      {"default-heldout", 1023, {2048, 3072, 4096, 5120, 6144, 8192}, 4, 64, 8, 2, 128, false},
      {"large", 37, std::vector<int32_t>(32, 32768), 8, 128, 32, 8, 128, true},
      {"large-heldout", 1037, std::vector<int32_t>(32, 32768), 8, 128, 32, 8, 128, true},
  };
  return table;
}

const SyntheticPreset* find_synthetic_preset(const std::string& name) {
  for (const SyntheticPreset& p : synthetic_presets())
    if (name == p.name) return &p;
  return nullptr;
}

// ---- model constants (docs/WORKLOADS.md, "The synthetic model") ---------------------------------
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kRopeBase = 10000.0;
constexpr int kSinkKeys = 4;
constexpr double kSinkNorm = 2.0;          // sink direction norm, in units of sqrt(d)
constexpr double kLocalNorm = 0.75;        // recency direction norm in every key, in units of sqrt(d)
constexpr int32_t kTopicSpan = 64;         // keys sharing one topic vector
constexpr double kTopicShare = 0.6;        // rho: correlation of a key's content with its topic
constexpr double kValueFromKey = 0.9;      // correlation of a value with its key's content
constexpr double kValueMean = 0.5;         // per-(layer, kv head) mean of the values
constexpr int32_t kTargetGuard = 128;      // retrieval targets avoid the newest keys

double scale_of(const SyntheticPreset& p) { return 1.0 / std::sqrt(static_cast<double>(p.head_dim)); }

// Content of key `position` (before RoPE): a per-key normal mixed with its segment's topic.
void content(const SyntheticPreset& p, int layer, int kv_head, int32_t position, double* out) {
  const double own = std::sqrt(1.0 - kTopicShare * kTopicShare);
  for (int j = 0; j < p.head_dim; ++j)
    out[j] = own * synthetic_normal(p.seed, kTagKey, layer, kv_head, position, j) +
             kTopicShare * synthetic_normal(p.seed, kTagTopic, layer, kv_head, position / kTopicSpan, j);
}

// Unit recency direction: equal energy in every rotary pair, a hashed phase per pair.
void local_direction(const SyntheticPreset& p, int layer, int kv_head, double* out) {
  const double amplitude = 1.0 / std::sqrt(p.head_dim / 2.0);
  for (int j = 0; j < p.head_dim / 2; ++j) {
    const double phase = 2.0 * kPi * synthetic_uniform(p.seed, kTagLocalDir, layer, kv_head, 0, j);
    out[2 * j] = amplitude * std::cos(phase);
    out[2 * j + 1] = amplitude * std::sin(phase);
  }
}

// Unit sink direction (in the rotated space: sinks attract queries at every position).
void sink_direction(const SyntheticPreset& p, int layer, int kv_head, double* out) {
  double norm_sq = 0.0;
  for (int j = 0; j < p.head_dim; ++j) {
    out[j] = synthetic_normal(p.seed, kTagSinkDir, layer, kv_head, 0, j);
    norm_sq += out[j] * out[j];
  }
  for (int j = 0; j < p.head_dim; ++j) out[j] /= std::sqrt(norm_sq);
}

// Rotates pairs (2j, 2j+1) by position * base^(-2j/d), in place.
void rope(const SyntheticPreset& p, int32_t position, double* x) {
  for (int j = 0; j < p.head_dim / 2; ++j) {
    const double theta = std::pow(kRopeBase, -2.0 * j / p.head_dim);
    const double c = std::cos(position * theta), s = std::sin(position * theta);
    const double a = x[2 * j], b = x[2 * j + 1];
    x[2 * j] = a * c - b * s;
    x[2 * j + 1] = a * s + b * c;
  }
}

}  // namespace

uint64_t synthetic_hash(uint64_t seed, uint32_t tag, uint32_t a, uint32_t b, uint32_t c, uint32_t dim) {
  const uint64_t word = (uint64_t{tag & 0xff} << 56) | (uint64_t{a & 0xffff} << 40) |
                        (uint64_t{b & 0xffff} << 24) | (dim & 0xffffff);
  return mix64(mix64(seed ^ word) ^ c);
}

double synthetic_uniform(uint64_t seed, uint32_t tag, uint32_t a, uint32_t b, uint32_t c, uint32_t dim) {
  return (static_cast<double>(synthetic_hash(seed, tag, a, b, c, dim) >> 40) + 0.5) * 0x1p-24;
}

double synthetic_normal(uint64_t seed, uint32_t tag, uint32_t a, uint32_t b, uint32_t c, uint32_t dim) {
  const uint64_t h = synthetic_hash(seed, tag, a, b, c, dim);
  const double u1 = (static_cast<double>(h >> 40) + 0.5) * 0x1p-24;
  const double u2 = (static_cast<double>((h >> 16) & 0xffffff) + 0.5) * 0x1p-24;
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * kPi * u2);
}

SyntheticHead synthetic_head(const SyntheticPreset& p, int layer, int head, int num_keys) {
  double u[8];
  for (int k = 0; k < 8; ++k) u[k] = synthetic_uniform(p.seed, kTagHead, layer, head, 0, k);
  const double log_n = std::log(static_cast<double>(num_keys));
  SyntheticHead h{};
  if (u[0] < 0.3) {  // local
    h.kind = 0;
    h.local_logit = 12.0 + 14.0 * u[1];
    h.sink_logit = log_n * (1.2 + 0.8 * u[2]);
    h.noise = 0.6 + 0.8 * u[3];
  } else if (u[0] < 0.55) {  // retrieval
    h.kind = 1;
    h.local_logit = 4.0 * u[1];
    h.sink_logit = log_n * (1.0 + 0.6 * u[2]);
    h.noise = 0.6 + 0.8 * u[3];
    h.retrieval_logit = 8.0 + 6.0 * u[5];
    h.retrieval_targets = 1 + static_cast<int>(3.999 * u[4]);
  } else if (u[0] < 0.75) {  // broad
    h.kind = 2;
    h.local_logit = 3.0 * u[1];
    h.sink_logit = log_n * 0.6 * u[2];
    h.noise = 0.3 + 0.9 * u[3];
  } else {  // mixed, peaked by a large random part
    h.kind = 3;
    h.local_logit = 8.0 * u[1];
    h.sink_logit = log_n * (1.2 + 0.8 * u[2]);
    h.noise = 1.2 + 2.8 * u[3];
  }
  h.temperature = 0.75 + 0.5 * u[6];
  return h;
}

void synthetic_key(const SyntheticPreset& p, int layer, int kv_head, int32_t position, float* key) {
  const int d = p.head_dim;
  std::vector<double> x(d), dir(d);
  content(p, layer, kv_head, position, x.data());
  local_direction(p, layer, kv_head, dir.data());
  const double local_norm = kLocalNorm * std::sqrt(static_cast<double>(d));
  for (int j = 0; j < d; ++j) x[j] += local_norm * dir[j];
  rope(p, position, x.data());
  if (position < kSinkKeys) {
    sink_direction(p, layer, kv_head, dir.data());
    const double norm = kSinkNorm * std::sqrt(static_cast<double>(d)) / (position + 1);
    for (int j = 0; j < d; ++j) x[j] += norm * dir[j];
  }
  for (int j = 0; j < d; ++j) key[j] = static_cast<float>(x[j]);
}

void synthetic_value(const SyntheticPreset& p, int layer, int kv_head, int32_t position, float* value) {
  const int d = p.head_dim;
  std::vector<double> c(d);
  content(p, layer, kv_head, position, c.data());
  const double own = std::sqrt(1.0 - kValueFromKey * kValueFromKey);
  for (int j = 0; j < d; ++j) {
    // A fixed signed permutation of the key's content (5j+3 is a bijection mod any power of two).
    const double sign = synthetic_uniform(p.seed, kTagValueSign, layer, kv_head, 0, j) < 0.5 ? -1.0 : 1.0;
    value[j] = static_cast<float>(kValueMean * synthetic_normal(p.seed, kTagValueMean, layer, kv_head, 0, j) +
                                  kValueFromKey * sign * c[(5 * j + 3) % d] +
                                  own * synthetic_normal(p.seed, kTagValue, layer, kv_head, position, j));
  }
}

void synthetic_query(const SyntheticPreset& p, int layer, int head, int step, int32_t num_keys, float* query) {
  const int d = p.head_dim;
  const int kv_head = head / (p.num_q_heads / p.num_kv_heads);
  const double scale = scale_of(p), root_d = std::sqrt(static_cast<double>(d));
  const SyntheticHead h = synthetic_head(p, layer, head, num_keys);
  const int32_t position = num_keys - 1;
  std::vector<double> q(d, 0.0), dir(d), c(d);
  // Recency: the key's local direction rotated to the query's position; RoPE turns
  // <R(p) u, R(i) u> into a kernel that decays with the distance p - i.
  local_direction(p, layer, kv_head, dir.data());
  rope(p, position, dir.data());
  const double local = h.local_logit / (scale * kLocalNorm * root_d);
  for (int j = 0; j < d; ++j) q[j] += local * dir[j];
  sink_direction(p, layer, kv_head, dir.data());
  const double sink = h.sink_logit / (scale * kSinkNorm * root_d);
  for (int j = 0; j < d; ++j) q[j] += sink * dir[j];
  for (int t = 0; t < h.retrieval_targets; ++t) {
    const double u = synthetic_uniform(p.seed, kTagTarget, layer, head, step, t);
    const int32_t span = std::max(1, num_keys - kSinkKeys - kTargetGuard);
    const int32_t target = kSinkKeys + static_cast<int32_t>(u * span);
    content(p, layer, kv_head, target, c.data());
    rope(p, target, c.data());
    for (int j = 0; j < d; ++j) q[j] += h.retrieval_logit / (scale * d) * c[j];
  }
  for (int j = 0; j < d; ++j)
    q[j] += h.noise / (scale * root_d) * synthetic_normal(p.seed, kTagQueryNoise, layer, head, step, j);
  for (int j = 0; j < d; ++j) query[j] = static_cast<float>(h.temperature * q[j]);
}

Status make_synthetic_workload(const SyntheticPreset& p, Workload* out) {
  Workload& w = *out;
  w = Workload();
  w.name = p.name;
  w.seed = p.seed;
  w.head_dim = p.head_dim;
  w.num_q_heads = p.num_q_heads;
  w.num_kv_heads = p.num_kv_heads;
  w.scale = static_cast<float>(scale_of(p));
  int64_t offset = 0;
  for (size_t l = 0; l < p.layer_context.size(); ++l) {
    w.layers.push_back({p.layer_context[l], 0, offset});
    offset += int64_t{p.layer_context[l]} * p.num_kv_heads * p.head_dim;
    for (int32_t s = 0; s < p.steps; ++s)
      w.calls.push_back({static_cast<int32_t>(l), s, p.layer_context[l] - (p.steps - 1 - s) * p.step_stride, 0});
  }
  const double bytes = 4.0 * (2.0 * offset + static_cast<double>(w.query_floats()));
  const double memory = static_cast<double>(::sysconf(_SC_PHYS_PAGES)) * ::sysconf(_SC_PAGESIZE);
  if (memory > 0 && bytes > 0.6 * memory)
    return Status::Error("workload '" + w.name + "' needs " + std::to_string(static_cast<long long>(bytes / 1e9)) +
                         " GB of host memory for its keys and values, more than this machine can hold; generate it "
                         "on a GPU (--device cuda) or use 'default'");
  auto storage = std::make_shared<std::vector<float>>(2 * offset + w.query_floats());
  float* keys = storage->data();
  float* values = keys + offset;
  float* queries = values + offset;
  // One task per (layer, kv head, block of keys): every key is independent of every other.
  struct Block { int layer, kv_head; int32_t begin, end; };
  std::vector<Block> blocks;
  for (size_t l = 0; l < w.layers.size(); ++l)
    for (int h = 0; h < p.num_kv_heads; ++h)
      for (int32_t i = 0; i < w.layers[l].kv_capacity; i += 1024)
        blocks.push_back({static_cast<int>(l), h, i, std::min(i + 1024, w.layers[l].kv_capacity)});
  parallel_for(static_cast<int64_t>(blocks.size()), 0, [&](int64_t b) {
    const Block& blk = blocks[b];
    const LayerInfo& info = w.layers[blk.layer];
    for (int32_t i = blk.begin; i < blk.end; ++i) {
      const int64_t at = info.kv_offset + (int64_t{blk.kv_head} * info.kv_capacity + i) * p.head_dim;
      synthetic_key(p, blk.layer, blk.kv_head, i, keys + at);
      synthetic_value(p, blk.layer, blk.kv_head, i, values + at);
    }
  });
  parallel_for(w.num_rows(), 0, [&](int64_t row) {
    const RowInfo info = w.row_info(row);
    const CallInfo& call = w.calls[info.call];
    synthetic_query(p, call.layer, info.head, call.step, call.num_keys, queries + row * p.head_dim);
  });
  w.attach(storage, keys, values, queries);
  return w.check_shape();
}

}  // namespace adrs

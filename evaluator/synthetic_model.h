// The synthetic attention model (docs/WORKLOADS.md, "The synthetic model"), element by element:
// every key, value and query element is a pure function of (seed, layer, head, position or step,
// dim) through counter-based hashing (splitmix64 -> two 24-bit uniforms -> Box-Muller). The
// functions compile for the host (g++) and for the device (nvcc), so the CPU generator
// (synthetic.cc) and the GPU generator (kernels/synthetic_device.cu) build the same workload.
// Both must evaluate the same expressions in the same order without fused multiply-adds (the
// device file is compiled with -fmad=false); the only possible difference is the last bit of the
// float64 log / cos / sin of the two math libraries, which the rounding to float almost always
// absorbs.
#pragma once

#include <math.h>
#include <string.h>

#include <cstdint>

#ifdef __CUDACC__
#define ADRS_HOST_DEVICE __host__ __device__
#else
#define ADRS_HOST_DEVICE
#endif

namespace adrs::synthetic {

// What the element functions need of a preset (plain data: it travels to the device).
struct Params {
  uint64_t seed;          // public: keys and queries are a function of it alone
  int head_dim;
  int num_q_heads;
  int num_kv_heads;
  bool bf16_kv;           // keys and values are rounded to bfloat16 (stored exactly as bf16 on a GPU)
  uint64_t value_secret;  // private: mixed into every value stream, so a masker that knows this file
                          // and the public seed still cannot rebuild the hidden values
};

// Stream tags keep the hashed streams apart.
enum Tag : uint32_t {
  kTagKey = 1, kTagTopic = 2, kTagValue = 3, kTagValueMean = 4, kTagSinkDir = 5, kTagLocalDir = 6,
  kTagHead = 7, kTagQueryNoise = 8, kTagTarget = 9, kTagValueSign = 10, kTagValuePerm = 11,
};

constexpr double kPi = 3.14159265358979323846;
constexpr double kRopeBase = 10000.0;
constexpr int kSinkKeys = 4;               // keys made of a sink component alone (key i at 1 / (i + 1))
constexpr int kSinkPairs = 2;              // the last (slowest) rotary pairs hold only the sink: ordinary
                                           // keys are empty there, as in the massive-activation dims of
                                           // real models, so a head's sink boost lands on the sink alone
constexpr double kSinkNorm = 2.0;          // sink component norm, in units of sqrt(d)
constexpr double kSinkValueScale = 0.1;    // sink keys' values are small (a sink is a near no-op)
constexpr double kLocalNorm = 0.75;        // recency direction norm in every key, in units of sqrt(d)
constexpr int32_t kTopicSpan = 64;         // keys sharing one topic vector
constexpr double kTopicShare = 0.6;        // rho: correlation of a key's content with its topic
constexpr double kValueFromKey = 0.5;      // correlation of a value with its key's content
constexpr double kValueMean = 0.35;        // per-(layer, kv head) mean of the values
constexpr int32_t kTargetGuard = 128;      // retrieval targets avoid the newest keys

ADRS_HOST_DEVICE inline uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// 64 hashed bits of (seed, tag, a, b, c, dim); a, b < 2^16, dim < 2^24.
ADRS_HOST_DEVICE inline uint64_t hash(uint64_t seed, uint32_t tag, uint32_t a, uint32_t b, uint32_t c, uint32_t dim) {
  const uint64_t word = (uint64_t{tag & 0xff} << 56) | (uint64_t{a & 0xffff} << 40) | (uint64_t{b & 0xffff} << 24) |
                        (dim & 0xffffff);
  return mix(mix(seed ^ word) ^ c);
}

// Uniform in (0, 1) from the top 24 bits of the hash.
ADRS_HOST_DEVICE inline double uniform(uint64_t seed, uint32_t tag, uint32_t a, uint32_t b, uint32_t c, uint32_t dim) {
  return (static_cast<double>(hash(seed, tag, a, b, c, dim) >> 40) + 0.5) * 0x1p-24;
}

// Standard normal: Box-Muller on the hash's two 24-bit halves.
ADRS_HOST_DEVICE inline double normal(uint64_t seed, uint32_t tag, uint32_t a, uint32_t b, uint32_t c, uint32_t dim) {
  const uint64_t h = hash(seed, tag, a, b, c, dim);
  const double u1 = (static_cast<double>(h >> 40) + 0.5) * 0x1p-24;
  const double u2 = (static_cast<double>((h >> 16) & 0xffffff) + 0.5) * 0x1p-24;
  return sqrt(-2.0 * log(u1)) * cos(2.0 * kPi * u2);
}

// Round to the nearest bfloat16 (ties to even), as __float2bfloat16 does, kept in a float.
ADRS_HOST_DEVICE inline float round_to_bf16(float x) {
  uint32_t bits;
  memcpy(&bits, &x, sizeof bits);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return x;  // NaN
  bits += 0x7fffu + ((bits >> 16) & 1u);
  bits &= 0xffff0000u;
  float out;
  memcpy(&out, &bits, sizeof out);
  return out;
}

ADRS_HOST_DEVICE inline double scale_of(const Params& p) { return 1.0 / sqrt(static_cast<double>(p.head_dim)); }

// A query head's character; all logit boosts are in units of the attention logit.
struct Head {
  int kind;               // 0 local, 1 retrieval, 2 broad, 3 mixed (spread by noise)
  double sink_logit;      // S: boost of the first sink key (sink key i gets S / (i + 1)); 0: no sink
  double local_logit;     // L: boost of the newest key, decaying with distance through RoPE
  double retrieval_logit; // R: boost of each retrieval target
  int retrieval_targets;  // T
  double noise;           // tau: scale of the random query part (logit std about 1.25 tau)
  double temperature;     // multiplies everything above
};

// The sink share of a head: none in layer 0, half the heads of layer 1, nine in ten after that
// (real models: nearly every head after the first layer or two). Its mass on the first key is drawn
// from [0.3, 0.9] and turned into a logit against the head's expected partition function.
ADRS_HOST_DEVICE inline double sink_logit_for(const Head& h, int layer, double u_has, double u_mass, int num_keys) {
  const double share = layer == 0 ? 0.0 : layer == 1 ? 0.5 : 0.9;
  if (!(u_has < share)) return 0.0;
  const double mass = 0.3 + 0.6 * u_mass;
  // Logit spread of an ordinary key: the query noise and the cross terms of the local and
  // retrieval parts with the keys' random content.
  const double sigma_sq = 1.5625 * h.noise * h.noise + 0.014 * h.local_logit * h.local_logit +
                          0.008 * h.retrieval_logit * h.retrieval_logit * h.retrieval_targets;
  const double rest = static_cast<double>(num_keys) * exp(0.5 * sigma_sq) + 8.0 * exp(h.local_logit) +
                      h.retrieval_targets * exp(h.retrieval_logit);
  return log(mass / (1.0 - mass)) + log(rest);
}

ADRS_HOST_DEVICE inline Head head_of(const Params& p, int layer, int head, int num_keys) {
  double u[8];
  for (int k = 0; k < 8; ++k) u[k] = uniform(p.seed, kTagHead, layer, head, 0, k);
  const double log_n = log(static_cast<double>(num_keys));
  // Kinds are stratified over the heads of a layer (a hashed offset per layer), so every layer has
  // its share of each kind and held-out seeds differ in detail, not in mix.
  const double offset = uniform(p.seed, kTagHead, layer, 0xffff, 0, 0);
  double kind_u = (head + 0.5) / p.num_q_heads + offset;
  kind_u -= floor(kind_u);
  Head h{};
  if (kind_u < 0.2) {  // local: the newest keys
    h.kind = 0;
    h.local_logit = 8.0 + 10.0 * u[1];
    h.noise = 0.8 + 0.8 * u[3];
  } else if (kind_u < 0.35) {  // retrieval: a few distant keys with a share of the mass each
    h.kind = 1;
    h.local_logit = 3.0 * u[1];
    h.noise = 0.8 + 0.8 * u[3];
    h.retrieval_logit = log_n + 1.0 + 3.0 * u[5];
    h.retrieval_targets = 1 + static_cast<int>(3.999 * u[4]);
  } else if (kind_u < 0.65) {  // broad: close to uniform over long stretches
    h.kind = 2;
    h.local_logit = 2.0 * u[1];
    h.noise = 0.9 + 0.9 * u[3];
  } else {  // mixed: a heavy tail of moderate keys from a large random part
    h.kind = 3;
    h.local_logit = 5.0 * u[1];
    h.noise = 1.4 + 1.4 * u[3];
  }
  h.temperature = 1.0;
  h.sink_logit = sink_logit_for(h, layer, u[2], u[6], num_keys);
  return h;
}

// The dims of rotary pair `pair` hold ordinary content (every pair but the last kSinkPairs).
ADRS_HOST_DEVICE inline bool content_pair(const Params& p, int pair) { return pair < p.head_dim / 2 - kSinkPairs; }

// Content of key `position` (before RoPE), dim j: a per-key normal mixed with its segment's topic;
// zero in the sink pairs.
ADRS_HOST_DEVICE inline double content(const Params& p, int layer, int kv_head, int32_t position, int j) {
  if (!content_pair(p, j / 2)) return 0.0;
  const double own = sqrt(1.0 - kTopicShare * kTopicShare);
  return own * normal(p.seed, kTagKey, layer, kv_head, position, j) +
         kTopicShare * normal(p.seed, kTagTopic, layer, kv_head, position / kTopicSpan, j);
}

// Rotary pair `pair` (dims 2 pair, 2 pair + 1) of the unit recency direction: equal energy in every
// content pair, a hashed phase per pair.
ADRS_HOST_DEVICE inline void local_direction(const Params& p, int layer, int kv_head, int pair, double* a, double* b) {
  if (!content_pair(p, pair)) {
    *a = *b = 0.0;
    return;
  }
  const double amplitude = 1.0 / sqrt(p.head_dim / 2.0 - kSinkPairs);
  const double phase = 2.0 * kPi * uniform(p.seed, kTagLocalDir, layer, kv_head, 0, pair);
  *a = amplitude * cos(phase);
  *b = amplitude * sin(phase);
}

// Rotates the pair (a, b) of rotary pair `pair` to `position`, in place.
ADRS_HOST_DEVICE inline void rope(const Params& p, int pair, int32_t position, double* a, double* b) {
  const double theta = pow(kRopeBase, -2.0 * pair / p.head_dim);
  const double c = cos(position * theta), s = sin(position * theta);
  const double x = *a, y = *b;
  *a = x * c - y * s;
  *b = x * s + y * c;
}

// Rotary pair `pair` of key `position`. `sink_dir` is the unit sink direction of (layer, kv head)
// (sink_direction in synthetic.h: nonzero only in the sink pairs; computed once).
ADRS_HOST_DEVICE inline void key_pair(const Params& p, int layer, int kv_head, int32_t position, int pair,
                                      const double* sink_dir, float* out) {
  double a = 0.0, b = 0.0;
  if (position < kSinkKeys) {  // a sink key is its sink component alone: its logit is the head's S
    const double norm = kSinkNorm * sqrt(static_cast<double>(p.head_dim)) / (position + 1);
    a = norm * sink_dir[2 * pair];
    b = norm * sink_dir[2 * pair + 1];
  } else {
    double dir_a, dir_b;
    local_direction(p, layer, kv_head, pair, &dir_a, &dir_b);
    const double local_norm = kLocalNorm * sqrt(static_cast<double>(p.head_dim));
    a = content(p, layer, kv_head, position, 2 * pair) + local_norm * dir_a;
    b = content(p, layer, kv_head, position, 2 * pair + 1) + local_norm * dir_b;
    rope(p, pair, position, &a, &b);
  }
  out[0] = static_cast<float>(a);
  out[1] = static_cast<float>(b);
  if (p.bf16_kv) {
    out[0] = round_to_bf16(out[0]);
    out[1] = round_to_bf16(out[1]);
  }
}

// The seed of every value stream: the public seed mixed with the private value secret.
ADRS_HOST_DEVICE inline uint64_t value_seed(const Params& p) { return mix(p.seed ^ mix(p.value_secret ^ 0x76616c7565ULL)); }

// Element j of value `position`: a per-head mean, a signed permutation of the key's content (both
// the signs and the permutation (odd * j + offset mod d, a bijection for any power of two) drawn
// from the secret stream) and its own noise; sink keys' values are scaled down.
ADRS_HOST_DEVICE inline float value_element(const Params& p, int layer, int kv_head, int32_t position, int j) {
  const int d = p.head_dim;
  const uint64_t vs = value_seed(p);
  const double own = sqrt(1.0 - kValueFromKey * kValueFromKey);
  const double sign = uniform(vs, kTagValueSign, layer, kv_head, 0, j) < 0.5 ? -1.0 : 1.0;
  const uint64_t perm = hash(vs, kTagValuePerm, layer, kv_head, 0, 0);
  const int source = static_cast<int>(((2 * (perm & 0xffff) + 1) * static_cast<uint64_t>(j) + (perm >> 32)) % d);
  double v = kValueMean * normal(vs, kTagValueMean, layer, kv_head, 0, j) +
             kValueFromKey * sign * content(p, layer, kv_head, position, source) +
             own * normal(vs, kTagValue, layer, kv_head, position, j);
  if (position < kSinkKeys) v = v * kSinkValueScale;
  const float f = static_cast<float>(v);
  return p.bf16_kv ? round_to_bf16(f) : f;
}

// Rotary pair `pair` of the query of (layer, query head) at decode `step` over `num_keys` keys
// (its own position is num_keys - 1), after RoPE. `sink_dir` as for key_pair, of the head's kv head.
ADRS_HOST_DEVICE inline void query_pair(const Params& p, int layer, int head, int step, int32_t num_keys, int pair,
                                        const double* sink_dir, float* out) {
  const int d = p.head_dim;
  const int kv_head = head / (p.num_q_heads / p.num_kv_heads);
  const double scale = scale_of(p), root_d = sqrt(static_cast<double>(d));
  const Head h = head_of(p, layer, head, num_keys);
  const int32_t position = num_keys - 1;
  double q[2] = {0.0, 0.0};
  // Recency: the key's local direction rotated to the query's position; RoPE turns
  // <R(p) u, R(i) u> into a kernel that decays with the distance p - i.
  double a, b;
  local_direction(p, layer, kv_head, pair, &a, &b);
  rope(p, pair, position, &a, &b);
  const double local = h.local_logit / (scale * kLocalNorm * root_d);
  q[0] += local * a;
  q[1] += local * b;
  const double sink = h.sink_logit / (scale * kSinkNorm * root_d);
  q[0] += sink * sink_dir[2 * pair];
  q[1] += sink * sink_dir[2 * pair + 1];
  for (int t = 0; t < h.retrieval_targets; ++t) {
    const double u = uniform(p.seed, kTagTarget, layer, head, step, t);
    const int32_t span = num_keys - kSinkKeys - kTargetGuard > 1 ? num_keys - kSinkKeys - kTargetGuard : 1;
    const int32_t target = kSinkKeys + static_cast<int32_t>(u * span);
    a = content(p, layer, kv_head, target, 2 * pair);
    b = content(p, layer, kv_head, target, 2 * pair + 1);
    rope(p, pair, target, &a, &b);
    q[0] += h.retrieval_logit / (scale * d) * a;
    q[1] += h.retrieval_logit / (scale * d) * b;
  }
  if (content_pair(p, pair))
    for (int e = 0; e < 2; ++e)
      q[e] += h.noise / (scale * root_d) * normal(p.seed, kTagQueryNoise, layer, head, step, 2 * pair + e);
  out[0] = static_cast<float>(h.temperature * q[0]);
  out[1] = static_cast<float>(h.temperature * q[1]);
}

}  // namespace adrs::synthetic

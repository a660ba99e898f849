#include "evaluator/synthetic.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cmath>
#include <cstring>
#include <memory>

#include "evaluator/compiler.h"
#include "util/parallel.h"

namespace adrs {

const std::vector<SyntheticPreset>& synthetic_presets() {
  // Held-out twins: the same shape and distribution, other seeds. `long` has Llama-3.1-8B's
  // attention shape (32 layers, 32 query / 8 kv heads, d = 128) at 32k keys.
  static const std::vector<SyntheticPreset> table = {
      {"smoke", 11, {512, 768}, 2, 16, 4, 2, 128, false, false, 0},
      {"smoke-heldout", 1011, {512, 768}, 2, 16, 4, 2, 128, false, false, 0},
      {"default", 23, {2048, 3072, 4096, 5120, 6144, 8192}, 4, 64, 8, 2, 128, false, false, 0},
      {"default-heldout", 1023, {2048, 3072, 4096, 5120, 6144, 8192}, 4, 64, 8, 2, 128, false, false, 0},
      {"long", 37, std::vector<int32_t>(32, 32768), 8, 128, 32, 8, 128, true, true, 0},
      {"long-heldout", 1037, std::vector<int32_t>(32, 32768), 8, 128, 32, 8, 128, true, true, 0},
  };
  return table;
}

const SyntheticPreset* find_synthetic_preset(const std::string& name) {
  // "large" was the GPU-sized preset's first name; runs and scripts that name it keep working.
  const std::string wanted = name == "large" ? "long" : name == "large-heldout" ? "long-heldout" : name;
  for (const SyntheticPreset& p : synthetic_presets())
    if (wanted == p.name) return &p;
  return nullptr;
}

namespace {

Status read_secret_file(const std::string& path, uint64_t* out) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return Status::Error("cannot read the value secret " + path + ": " + std::strerror(errno));
  struct stat st {};
  uint64_t value = 0;
  const bool regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  const bool private_mode = (st.st_mode & 077) == 0;
  const bool whole = regular && st.st_size == sizeof value && ::read(fd, &value, sizeof value) == sizeof value;
  ::close(fd);
  if (!regular || !whole)
    return Status::Error("the value secret " + path + " is not an 8-byte file; delete it and a fresh one is made");
  if (!private_mode || st.st_uid != ::geteuid())
    return Status::Error("the value secret " + path + " is readable by others or owned by another user; run chmod 600 " +
                         path + " as its owner, or delete it and a fresh one is made");
  *out = value;
  return Status::Ok();
}

}  // namespace

Status load_value_secret(const std::string& dir, uint64_t* out) {
  if (Status s = make_directories(dir); !s.ok()) return s;
  const std::string path = dir + "/" + kValueSecretFile;
  if (::access(path.c_str(), F_OK) != 0 && errno == ENOENT) {
    // Written under a private name, then linked into place: link() fails when another process won
    // the race, and both then read the one file that is there.
    uint64_t fresh = 0;
    if (::getrandom(&fresh, sizeof fresh, 0) != sizeof fresh)
      return Status::Error(std::string("getrandom failed for the value secret: ") + std::strerror(errno));
    const std::string temp = path + ".tmp." + std::to_string(::getpid());
    const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return Status::Fault("cannot create the value secret in " + dir + ": " + std::strerror(errno));
    const bool written = ::write(fd, &fresh, sizeof fresh) == sizeof fresh && ::fsync(fd) == 0;
    ::close(fd);
    if (written && ::link(temp.c_str(), path.c_str()) != 0 && errno != EEXIST) {
      const std::string why = std::strerror(errno);
      ::unlink(temp.c_str());
      return Status::Fault("cannot create the value secret " + path + ": " + why);
    }
    ::unlink(temp.c_str());
    if (!written) return Status::Fault("cannot write the value secret in " + dir + " (is the disk full?)");
  }
  return read_secret_file(path, out);
}

std::string value_secret_dir() {
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) return std::string(xdg) + "/adrs";
  if (const char* home = std::getenv("HOME"); home && *home) return std::string(home) + "/.cache/adrs";
  return default_cache_dir();
}

Status with_value_secret(const SyntheticPreset& preset, const uint64_t* secret, SyntheticPreset* out) {
  *out = preset;
  if (secret) {
    out->value_secret = *secret;
    return Status::Ok();
  }
  return load_value_secret(value_secret_dir(), &out->value_secret);
}

double synthetic_normal(uint64_t seed, uint32_t tag, uint32_t a, uint32_t b, uint32_t c, uint32_t dim) {
  return synthetic::normal(seed, tag, a, b, c, dim);
}

void synthetic_sink_direction(const SyntheticPreset& p, int layer, int kv_head, double* out) {
  // Nonzero only in the sink pairs, which ordinary keys leave empty (synthetic_model.h).
  double norm_sq = 0.0;
  for (int j = 0; j < p.head_dim; ++j) {
    out[j] = synthetic::content_pair(p.params(), j / 2) ? 0.0 : synthetic::normal(p.seed, synthetic::kTagSinkDir, layer, kv_head, 0, j);
    norm_sq += out[j] * out[j];
  }
  for (int j = 0; j < p.head_dim; ++j) out[j] /= std::sqrt(norm_sq);
}

void synthetic_key(const SyntheticPreset& p, int layer, int kv_head, int32_t position, float* key) {
  std::vector<double> sink(p.head_dim);
  synthetic_sink_direction(p, layer, kv_head, sink.data());
  for (int pair = 0; pair < p.head_dim / 2; ++pair)
    synthetic::key_pair(p.params(), layer, kv_head, position, pair, sink.data(), key + 2 * pair);
}

void synthetic_value(const SyntheticPreset& p, int layer, int kv_head, int32_t position, float* value) {
  for (int j = 0; j < p.head_dim; ++j) value[j] = synthetic::value_element(p.params(), layer, kv_head, position, j);
}

void synthetic_query(const SyntheticPreset& p, int layer, int head, int step, int32_t num_keys, float* query) {
  std::vector<double> sink(p.head_dim);
  synthetic_sink_direction(p, layer, head / (p.num_q_heads / p.num_kv_heads), sink.data());
  for (int pair = 0; pair < p.head_dim / 2; ++pair)
    synthetic::query_pair(p.params(), layer, head, step, num_keys, pair, sink.data(), query + 2 * pair);
}

Workload synthetic_layout(const SyntheticPreset& p) {
  Workload w;
  w.name = p.name;
  w.seed = p.seed;
  w.head_dim = p.head_dim;
  w.num_q_heads = p.num_q_heads;
  w.num_kv_heads = p.num_kv_heads;
  w.scale = static_cast<float>(synthetic::scale_of(p.params()));
  int64_t offset = 0;
  for (size_t l = 0; l < p.layer_context.size(); ++l) {
    w.layers.push_back({p.layer_context[l], 0, offset});
    offset += int64_t{p.layer_context[l]} * p.num_kv_heads * p.head_dim;
    for (int32_t s = 0; s < p.steps; ++s)
      w.calls.push_back({static_cast<int32_t>(l), s, p.layer_context[l] - (p.steps - 1 - s) * p.step_stride, 0});
  }
  return w;
}

Status check_host_memory(const Workload& layout) {
  const double bytes = 4.0 * (2.0 * static_cast<double>(layout.kv_floats()) + static_cast<double>(layout.query_floats()));
  const double memory = static_cast<double>(::sysconf(_SC_PHYS_PAGES)) * ::sysconf(_SC_PAGESIZE);
  if (memory > 0 && bytes > 0.6 * memory)
    return Status::Error("workload '" + layout.name + "' needs " + std::to_string(static_cast<long long>(bytes / 1e9)) +
                         " GB of host memory for its keys and values (the masker worker reads them on the host), more "
                         "than 60% of this machine's " + std::to_string(static_cast<long long>(memory / 1e9)) +
                         " GB; use a machine with more memory or the workload 'default'");
  return Status::Ok();
}

Status make_synthetic_workload(const SyntheticPreset& p, Workload* out) {
  Workload& w = *out;
  w = synthetic_layout(p);
  const int64_t offset = w.kv_floats();  // floats of the keys (and of the values)
  if (Status s = check_host_memory(w); !s.ok()) return s;
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
    std::vector<double> sink(p.head_dim);
    synthetic_sink_direction(p, blk.layer, blk.kv_head, sink.data());
    for (int32_t i = blk.begin; i < blk.end; ++i) {
      const int64_t at = info.kv_offset + (int64_t{blk.kv_head} * info.kv_capacity + i) * p.head_dim;
      for (int pair = 0; pair < p.head_dim / 2; ++pair)
        synthetic::key_pair(p.params(), blk.layer, blk.kv_head, i, pair, sink.data(), keys + at + 2 * pair);
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

#include "evaluator/trace.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>

#include <nlohmann/json.hpp>

#include "util/resources.h"

namespace adrs {

namespace {

// A read-only mapping of the whole file, unmapped when the last user lets go.
struct Mapping {
  const uint8_t* data = nullptr;
  size_t size = 0;
  ~Mapping() {
    if (data) ::munmap(const_cast<uint8_t*>(data), size);
  }
};

struct TensorView {
  std::string dtype;
  std::vector<int64_t> shape;
  const uint8_t* bytes = nullptr;
  int64_t count = 0;  // elements
};

int dtype_size(const std::string& dtype) {
  if (dtype == "F32" || dtype == "I32") return 4;
  if (dtype == "BF16" || dtype == "F16") return 2;
  if (dtype == "I64") return 8;
  return 0;
}

float half_to_float(uint16_t h) {
  const uint32_t sign = (h >> 15) & 1, exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
  float magnitude;
  if (exponent == 0) magnitude = std::ldexp(static_cast<float>(mantissa), -24);
  else if (exponent == 31) magnitude = mantissa ? NAN : INFINITY;
  else magnitude = std::ldexp(static_cast<float>(mantissa | 0x400), static_cast<int>(exponent) - 25);
  return sign ? -magnitude : magnitude;
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

class TraceReader {
 public:
  explicit TraceReader(std::string path) : path_(std::move(path)) {}

  Status error(const std::string& what) const { return Status::Error("trace '" + path_ + "': " + what); }

  Status open() {
    const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::Error("cannot open trace '" + path_ + "': " + std::strerror(errno));
    struct stat st {};
    ::fstat(fd, &st);
    map_ = std::make_shared<Mapping>();
    map_->size = static_cast<size_t>(st.st_size);
    if (map_->size > 0) {
      void* p = ::mmap(nullptr, map_->size, PROT_READ, MAP_PRIVATE, fd, 0);
      if (p == MAP_FAILED) {
        ::close(fd);
        return error(std::string("cannot map the file: ") + std::strerror(errno));
      }
      map_->data = static_cast<const uint8_t*>(p);
    }
    ::close(fd);
    if (map_->size < 8) return error("truncated: shorter than the 8-byte safetensors header length");
    uint64_t header_len = 0;
    for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | map_->data[i];
    if (header_len > map_->size - 8)
      return error("truncated: the header claims " + std::to_string(header_len) + " bytes but the file has " +
                   std::to_string(map_->size - 8) + " after the length (is this a safetensors file?)");
    const char* text = reinterpret_cast<const char*>(map_->data + 8);
    header_ = nlohmann::json::parse(text, text + header_len, nullptr, false);
    if (header_.is_discarded() || !header_.is_object())
      return error("the safetensors header is not a JSON object (corrupt file or not safetensors)");
    data_ = map_->data + 8 + header_len;
    data_size_ = map_->size - 8 - header_len;
    return Status::Ok();
  }

  std::string metadata(const std::string& key) const {
    auto meta = header_.find("__metadata__");
    if (meta == header_.end() || !meta->is_object()) return "";
    auto it = meta->find(key);
    return it != meta->end() && it->is_string() ? it->get<std::string>() : "";
  }

  bool has(const std::string& name) const { return header_.contains(name); }

  // Looks up a tensor and checks its entry against the data section. `allowed` lists dtypes.
  Status tensor(const std::string& name, const std::vector<std::string>& allowed, TensorView* out) const {
    auto it = header_.find(name);
    if (it == header_.end())
      return error("missing tensor '" + name + "' (each entry i needs layer.i.keys, layer.i.values, "
                   "layer.i.queries and layer.i.num_keys; see docs/WORKLOADS.md)");
    const nlohmann::json& t = *it;
    if (!t.is_object() || !t.contains("dtype") || !t["dtype"].is_string() || !t.contains("shape") ||
        !t["shape"].is_array() || !t.contains("data_offsets") || !t["data_offsets"].is_array() ||
        t["data_offsets"].size() != 2)
      return error("tensor '" + name + "' has a malformed header entry (needs dtype, shape, data_offsets)");
    out->dtype = t["dtype"].get<std::string>();
    bool known = false;
    std::string names;
    for (const std::string& a : allowed) {
      known = known || a == out->dtype;
      names += (names.empty() ? "" : ", ") + a;
    }
    if (!known) return error("tensor '" + name + "' has dtype " + out->dtype + "; it must be one of " + names);
    out->shape.clear();
    out->count = 1;
    for (const auto& dim : t["shape"]) {
      if (!dim.is_number_integer() || dim.get<int64_t>() < 0 || dim.get<int64_t>() > (int64_t{1} << 40))
        return error("tensor '" + name + "' has a bad shape entry");
      out->shape.push_back(dim.get<int64_t>());
      out->count *= out->shape.back();
    }
    const auto& offsets = t["data_offsets"];
    if (!offsets[0].is_number_unsigned() || !offsets[1].is_number_unsigned())
      return error("tensor '" + name + "' has bad data_offsets");
    const uint64_t begin = offsets[0].get<uint64_t>(), end = offsets[1].get<uint64_t>();
    if (end < begin || end > data_size_)
      return error("tensor '" + name + "' spans bytes [" + std::to_string(begin) + ", " + std::to_string(end) +
                   ") but the data section has " + std::to_string(data_size_) + " (truncated file?)");
    if (end - begin != static_cast<uint64_t>(out->count) * dtype_size(out->dtype))
      return error("tensor '" + name + "' of shape " + shape_text(out->shape) + " and dtype " + out->dtype +
                   " needs " + std::to_string(out->count * dtype_size(out->dtype)) + " bytes but spans " +
                   std::to_string(end - begin));
    out->bytes = data_ + begin;
    return Status::Ok();
  }

  const nlohmann::json& header() const { return header_; }

 private:
  std::string path_;
  std::shared_ptr<Mapping> map_;
  nlohmann::json header_;
  const uint8_t* data_ = nullptr;
  size_t data_size_ = 0;
};

const std::vector<std::string> kFloatTypes = {"BF16", "F16", "F32"};

// Converts to float32; fails on a non-finite element.
bool convert(const TensorView& t, float* out) {
  for (int64_t i = 0; i < t.count; ++i) {
    float x;
    if (t.dtype == "F32") {
      std::memcpy(&x, t.bytes + 4 * i, 4);
    } else {
      uint16_t h;
      std::memcpy(&h, t.bytes + 2 * i, 2);
      if (t.dtype == "BF16") {
        const uint32_t bits = uint32_t{h} << 16;
        std::memcpy(&x, &bits, 4);
      } else {
        x = half_to_float(h);
      }
    }
    if (!std::isfinite(x)) return false;
    out[i] = x;
  }
  return true;
}

int64_t integer_at(const TensorView& t, int64_t i) {
  if (t.dtype == "I32") {
    int32_t v;
    std::memcpy(&v, t.bytes + 4 * i, 4);
    return v;
  }
  int64_t v;
  std::memcpy(&v, t.bytes + 8 * i, 8);
  return v;
}

// Checks the trace's format and version and that its tensors are layer.0.* .. layer.(n-1).*
// without gaps; sets *entries to n.
Status count_entries(const TraceReader& reader, int* entries) {
  if (reader.metadata("format") != "adrs-attention-trace")
    return reader.error("not an adrs attention trace (metadata 'format' must be 'adrs-attention-trace'; write "
                        "traces with tools/dump_attention_trace.py)");
  if (reader.metadata("version") != "1")
    return reader.error("trace format version '" + reader.metadata("version") + "' is not supported (this adrs reads version 1)");
  int n = 0;
  while (reader.has("layer." + std::to_string(n) + ".keys")) ++n;
  for (const auto& [name, unused] : reader.header().items()) {
    if (name == "__metadata__") continue;
    const size_t dot = name.find('.', 6);
    const bool ours = name.rfind("layer.", 0) == 0 && dot != std::string::npos;
    const int index = ours ? std::atoi(name.substr(6, dot - 6).c_str()) : -1;
    if (!ours || index >= n) {
      if (n == 0) return reader.error("missing tensor 'layer.0.keys' (a trace holds layer.i.keys, .values, .queries, .num_keys)");
      return reader.error("unexpected tensor '" + name + "' (entries must be numbered 0.." + std::to_string(n - 1) +
                          " without gaps; is layer." + std::to_string(n) + ".keys missing?)");
    }
  }
  if (n == 0) return reader.error("missing tensor 'layer.0.keys' (the trace holds no entries)");
  *entries = n;
  return Status::Ok();
}

// One entry of the trace: a layer's keys and values, and its queries and key counts per step.
struct TraceEntry {
  TensorView keys, values, queries, counts;
};

// Reads entry i's tensors and checks their shapes against each other and against entry 0.
Status read_entry(const TraceReader& reader, int i, const Workload& w, TraceEntry* e) {
  const std::string base = "layer." + std::to_string(i) + ".";
  if (Status s = reader.tensor(base + "keys", kFloatTypes, &e->keys); !s.ok()) return s;
  if (Status s = reader.tensor(base + "values", kFloatTypes, &e->values); !s.ok()) return s;
  if (Status s = reader.tensor(base + "queries", kFloatTypes, &e->queries); !s.ok()) return s;
  if (Status s = reader.tensor(base + "num_keys", {"I32", "I64"}, &e->counts); !s.ok()) return s;
  const auto& k = e->keys.shape;
  const auto& q = e->queries.shape;
  if (k.size() != 3 || k[0] < 1 || k[1] < 1 || k[2] < 2)
    return reader.error("tensor '" + base + "keys' has shape " + shape_text(k) + "; expected [kv_heads, capacity, head_dim]");
  if (e->values.shape != k)
    return reader.error("tensor '" + base + "values' has shape " + shape_text(e->values.shape) + " but the keys have " + shape_text(k));
  if (q.size() != 3 || q[0] < 1 || q[2] != k[2] || q[1] < 1 || q[1] % k[0] != 0)
    return reader.error("tensor '" + base + "queries' has shape " + shape_text(q) + "; expected [steps, q_heads, " +
                        std::to_string(k[2]) + "] with q_heads a multiple of the keys' " + std::to_string(k[0]) + " kv heads");
  if (e->counts.shape != std::vector<int64_t>{q[0]})
    return reader.error("tensor '" + base + "num_keys' has shape " + shape_text(e->counts.shape) + "; expected [" + std::to_string(q[0]) + "] (one per step)");
  if (i > 0 && (k[0] != w.num_kv_heads || q[1] != w.num_q_heads || k[2] != w.head_dim))
    return reader.error("entry " + std::to_string(i) + " has other head counts or head_dim than entry 0");
  if (k[1] > (int64_t{1} << 30)) return reader.error("tensor '" + base + "keys' has too many keys");
  return Status::Ok();
}

// Adds entry i's layer (its keys start at kv_offset floats) and one call per step to the workload.
Status add_entry_calls(const TraceReader& reader, int i, const TraceEntry& e, int64_t kv_offset, Workload* w) {
  const auto& k = e.keys.shape;
  w->layers.push_back({static_cast<int32_t>(k[1]), 0, kv_offset});
  for (int64_t s = 0; s < e.queries.shape[0]; ++s) {
    const int64_t n = integer_at(e.counts, s);
    if (n < 1 || n > k[1])
      return reader.error("tensor 'layer." + std::to_string(i) + ".num_keys' holds " + std::to_string(n) + " at step " +
                          std::to_string(s) + "; each must be in [1, " + std::to_string(k[1]) + "] (the keys' capacity)");
    w->calls.push_back({i, static_cast<int32_t>(s), static_cast<int32_t>(n), 0});
  }
  return Status::Ok();
}

// Converts every entry to float32 into one buffer (keys, then values, then queries) that the
// workload keeps; fails on a non-finite number.
Status attach_floats(const TraceReader& reader, const std::vector<TraceEntry>& entries, int64_t kv_floats,
                     int64_t query_floats, Workload* w) {
  auto storage = std::make_shared<std::vector<float>>(2 * kv_floats + query_floats);
  float* k_out = storage->data();
  float* v_out = k_out + kv_floats;
  float* q_out = v_out + kv_floats;
  for (size_t i = 0; i < entries.size(); ++i) {
    const std::string base = "layer." + std::to_string(i) + ".";
    const int64_t at = w->layers[i].kv_offset;
    if (!convert(entries[i].keys, k_out + at)) return reader.error("tensor '" + base + "keys' holds a non-finite number");
    if (!convert(entries[i].values, v_out + at)) return reader.error("tensor '" + base + "values' holds a non-finite number");
    if (!convert(entries[i].queries, q_out)) return reader.error("tensor '" + base + "queries' holds a non-finite number");
    q_out += entries[i].queries.count;
  }
  w->attach(storage, k_out, v_out, k_out + 2 * kv_floats);
  return Status::Ok();
}

}  // namespace

bool is_trace_path(const std::string& workload) {
  const std::string suffix = ".safetensors";
  return workload.size() > suffix.size() && workload.compare(workload.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string shipped_workloads_dir() {
  const char* dir = std::getenv("ADRS_WORKLOADS_DIR");
  if (dir && *dir) return dir;
  return data_dir() + "/workloads";
}

Status load_trace(const std::string& path, Workload* out) {
  TraceReader reader(path);
  if (Status s = reader.open(); !s.ok()) return s;
  int count = 0;
  if (Status s = count_entries(reader, &count); !s.ok()) return s;
  Workload& w = *out;
  w = Workload();
  w.name = reader.metadata("name").empty() ? path : reader.metadata("name");
  std::vector<TraceEntry> entries(count);
  int64_t kv_floats = 0, query_floats = 0;
  for (int i = 0; i < count; ++i) {
    if (Status s = read_entry(reader, i, w, &entries[i]); !s.ok()) return s;
    if (i == 0) {
      w.num_kv_heads = static_cast<int32_t>(entries[0].keys.shape[0]);
      w.num_q_heads = static_cast<int32_t>(entries[0].queries.shape[1]);
      w.head_dim = static_cast<int32_t>(entries[0].keys.shape[2]);
    }
    if (Status s = add_entry_calls(reader, i, entries[i], kv_floats, &w); !s.ok()) return s;
    kv_floats += entries[i].keys.count;
    query_floats += entries[i].queries.count;
  }
  const std::string scale = reader.metadata("scale");
  w.scale = static_cast<float>(scale.empty() ? 1.0 / std::sqrt(static_cast<double>(w.head_dim)) : std::atof(scale.c_str()));
  if (!(w.scale > 0.0f) || !std::isfinite(w.scale))
    return reader.error("metadata 'scale' is '" + scale + "'; it must be a positive number (or absent for 1/sqrt(d))");
  if (Status s = attach_floats(reader, entries, kv_floats, query_floats, &w); !s.ok()) return s;
  return w.check_shape();
}

}  // namespace adrs

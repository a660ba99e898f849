#include "evaluator/worker_protocol.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "evaluator/backend.h"

namespace adrs {

namespace {

constexpr char kInputMagic[8] = {'A', 'D', 'R', 'S', 'W', 'I', 'N', '3'};
constexpr char kOutputMagic[8] = {'A', 'D', 'R', 'S', 'S', 'E', 'L', '1'};
constexpr int64_t kAlign = 64;
// The arrays start on a boundary the worker can map from, so that it maps only them: the header
// and the tables are read into its heap and the header is wiped (a masker scanning the mapping
// finds no header).
constexpr int64_t kDataAlign = 65536;

struct InputHeader {
  char magic[8];
  int32_t head_dim, num_q_heads, num_kv_heads, num_layers;
  int64_t num_calls;
  float scale;
  uint32_t has_values, has_scores, has_keys, reserved;
  int64_t layers_at, calls_at, keys_at, values_at, queries_at, scores_at, file_size;
};

struct OutputHeader {
  char magic[8];
  int64_t rows, entries;
};

int64_t align_up(int64_t x) { return (x + kAlign - 1) / kAlign * kAlign; }

class Mapping {
 public:
  Mapping(void* data, size_t size) : data_(data), size_(size) {}
  ~Mapping() { munmap(data_, size_); }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;

 private:
  void* data_;
  size_t size_;
};

bool write_all(int fd, const void* data, size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t written = ::write(fd, p, size);
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) return false;
    p += written;
    size -= static_cast<size_t>(written);
  }
  return true;
}

std::string errno_text() { return std::strerror(errno); }

// The header with every section's offset laid out (aligned) and the file's size.
InputHeader input_header(const Workload& w, bool include_scores, int64_t score_count, bool include_values, bool include_keys) {
  InputHeader h{};
  std::memcpy(h.magic, kInputMagic, sizeof h.magic);
  h.head_dim = w.head_dim;
  h.num_q_heads = w.num_q_heads;
  h.num_kv_heads = w.num_kv_heads;
  h.num_layers = static_cast<int32_t>(w.layers.size());
  h.num_calls = static_cast<int64_t>(w.calls.size());
  h.scale = w.scale;
  h.has_values = include_values ? 1 : 0;
  h.has_scores = include_scores ? 1 : 0;
  h.has_keys = include_keys ? 1 : 0;
  int64_t at = align_up(sizeof h);
  h.layers_at = at;
  at = align_up(at + static_cast<int64_t>(w.layers.size() * sizeof(LayerInfo)));
  h.calls_at = at;
  at = align_up(at + static_cast<int64_t>(w.calls.size() * sizeof(CallInfo)));
  at = (at + kDataAlign - 1) / kDataAlign * kDataAlign;
  h.keys_at = at;
  if (include_keys) at = align_up(at + w.kv_floats() * 4);
  h.values_at = include_values ? at : 0;
  if (include_values) at = align_up(at + w.kv_floats() * 4);
  h.queries_at = at;
  at = align_up(at + w.query_floats() * 4);
  h.scores_at = include_scores ? at : 0;
  if (include_scores) at = align_up(at + score_count * 4);
  h.file_size = at;
  return h;
}

}  // namespace

Status write_worker_input(const Workload& w, const float* scores, bool include_values,
                          const std::string& path, bool include_keys) {
  const int64_t score_count = row_key_offsets(w).back();
  const InputHeader h = input_header(w, scores != nullptr, score_count, include_values, include_keys);
  const std::string temp = path + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::Fault("cannot create " + temp + ": " + errno_text());
  struct Section {
    int64_t at;
    const void* data;
    int64_t bytes;
  };
  const Section sections[] = {
      {0, &h, sizeof h},
      {h.layers_at, w.layers.data(), static_cast<int64_t>(w.layers.size() * sizeof(LayerInfo))},
      {h.calls_at, w.calls.data(), static_cast<int64_t>(w.calls.size() * sizeof(CallInfo))},
      {h.keys_at, include_keys ? w.keys_data() : nullptr, include_keys ? w.kv_floats() * 4 : 0},
      {h.values_at, include_values ? w.values_data() : nullptr, include_values ? w.kv_floats() * 4 : 0},
      {h.queries_at, w.queries_data(), w.query_floats() * 4},
      {h.scores_at, scores, scores ? score_count * 4 : 0},
  };
  bool ok = ::ftruncate(fd, h.file_size) == 0;
  for (const Section& s : sections) {
    if (!ok || s.bytes == 0) continue;
    ok = ::lseek(fd, s.at, SEEK_SET) == s.at && write_all(fd, s.data, static_cast<size_t>(s.bytes));
  }
  const std::string why = errno_text();
  ok = (::close(fd) == 0) && ok;
  if (!ok || ::rename(temp.c_str(), path.c_str()) != 0) {
    ::unlink(temp.c_str());
    return Status::Fault("cannot write the worker input " + path + ": " + why + " (is the disk full?)");
  }
  return Status::Ok();
}

Status map_worker_input(int fd, WorkerInput* out) {
  const std::string path = "the worker input";
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < static_cast<off_t>(sizeof(InputHeader)))
    return Status::Error(path + " is not a worker input (too small or not a file)");
  InputHeader h;
  if (::pread(fd, &h, sizeof h, 0) != static_cast<ssize_t>(sizeof h) ||
      std::memcmp(h.magic, kInputMagic, sizeof h.magic) != 0 || h.file_size != st.st_size)
    return Status::Error(path + " is not a worker input of this version");
  Workload& w = out->workload;
  w.name.clear();  // never in the input: see the header comment
  w.seed = 0;
  w.head_dim = h.head_dim;
  w.num_q_heads = h.num_q_heads;
  w.num_kv_heads = h.num_kv_heads;
  w.scale = h.scale;
  auto fits = [&](int64_t at, int64_t bytes) { return at >= 0 && bytes >= 0 && at + bytes <= h.file_size; };
  const int64_t data_at = h.keys_at;
  if (h.num_layers < 0 || h.num_calls < 0 || !fits(h.layers_at, h.num_layers * int64_t{sizeof(LayerInfo)}) ||
      !fits(h.calls_at, h.num_calls * int64_t{sizeof(CallInfo)}) || data_at % kDataAlign != 0 || data_at <= 0)
    return Status::Error(path + ": tables do not fit the file");
  w.layers.resize(h.num_layers);
  w.calls.resize(h.num_calls);
  const auto layer_bytes = static_cast<ssize_t>(w.layers.size() * sizeof(LayerInfo));
  const auto call_bytes = static_cast<ssize_t>(w.calls.size() * sizeof(CallInfo));
  if (::pread(fd, w.layers.data(), static_cast<size_t>(layer_bytes), h.layers_at) != layer_bytes ||
      ::pread(fd, w.calls.data(), static_cast<size_t>(call_bytes), h.calls_at) != call_bytes)
    return Status::Error("cannot read the tables of " + path + ": " + errno_text());
  if (Status s = w.check_shape(); !s.ok()) return s;
  out->score_offsets = row_key_offsets(w);
  if ((h.has_keys && !fits(h.keys_at, w.kv_floats() * 4)) || (h.has_values && !fits(h.values_at, w.kv_floats() * 4)) ||
      !fits(h.queries_at, w.query_floats() * 4) || (h.has_values && h.values_at < data_at) || h.queries_at < data_at ||
      (h.has_scores && (!fits(h.scores_at, out->score_offsets.back() * 4) || h.scores_at < data_at)))
    return Status::Error(path + ": arrays do not fit the file");
  const size_t mapped = static_cast<size_t>(h.file_size - data_at);
  void* data = ::mmap(nullptr, mapped, PROT_READ, MAP_PRIVATE, fd, data_at);
  if (data == MAP_FAILED) return Status::Error("cannot map " + path + ": " + errno_text());
  auto mapping = std::make_shared<Mapping>(data, mapped);
  const char* base = static_cast<const char*>(data);
  auto floats = [&](int64_t at) { return reinterpret_cast<const float*>(base + (at - data_at)); };
  w.attach(mapping, h.has_keys ? floats(h.keys_at) : nullptr, h.has_values ? floats(h.values_at) : nullptr, floats(h.queries_at));
  out->scores = h.has_scores ? floats(h.scores_at) : nullptr;
  explicit_bzero(&h, sizeof h);
  return Status::Ok();
}

Status write_selections(int fd, const Selections& s) {
  OutputHeader h{};
  std::memcpy(h.magic, kOutputMagic, sizeof h.magic);
  h.rows = s.num_rows();
  h.entries = static_cast<int64_t>(s.indices.size());
  const bool ok = write_all(fd, &h, sizeof h) &&
                  write_all(fd, s.offsets.data(), s.offsets.size() * sizeof(int64_t)) &&
                  write_all(fd, s.indices.data(), s.indices.size() * sizeof(int32_t)) &&
                  write_all(fd, s.weights.data(), s.weights.size() * sizeof(double));
  if (!ok) return Status::Error("cannot write selections: " + errno_text());
  return Status::Ok();
}

Status read_selections(int fd, int64_t expected_rows, int64_t max_entries, Selections* out) {
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return Status::Error("the worker's output is not readable");
  const int64_t size = st.st_size;
  OutputHeader h{};
  if (size < static_cast<int64_t>(sizeof h) || ::pread(fd, &h, sizeof h, 0) != static_cast<ssize_t>(sizeof h) ||
      std::memcmp(h.magic, kOutputMagic, sizeof h.magic) != 0)
    return Status::Error(size == 0 ? "the worker wrote no selections" : "the worker's output is not a selections file");
  if (h.rows != expected_rows)
    return Status::Error("the worker returned " + std::to_string(h.rows) + " rows; expected " +
                         std::to_string(expected_rows));
  if (h.entries < 0 || h.entries > max_entries)
    return Status::Error("the worker returned " + std::to_string(h.entries) + " entries; at most " +
                         std::to_string(max_entries) + " are accepted");
  const int64_t expected_size = static_cast<int64_t>(sizeof h) + (h.rows + 1) * 8 + h.entries * 12;
  if (size != expected_size) return Status::Error("the worker's output is truncated or padded");
  out->offsets.resize(h.rows + 1);
  out->indices.resize(h.entries);
  out->weights.resize(h.entries);
  auto read_at = [&](void* data, int64_t bytes, int64_t at) {
    char* p = static_cast<char*>(data);
    while (bytes > 0) {
      const ssize_t got = ::pread(fd, p, static_cast<size_t>(bytes), at);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) return false;
      p += got;
      at += got;
      bytes -= got;
    }
    return true;
  };
  int64_t at = sizeof h;
  const bool ok = read_at(out->offsets.data(), (h.rows + 1) * 8, at) &&
                  read_at(out->indices.data(), h.entries * 4, at + (h.rows + 1) * 8) &&
                  read_at(out->weights.data(), h.entries * 8, at + (h.rows + 1) * 8 + h.entries * 4);
  if (!ok) return Status::Error("cannot read the worker's output");
  if (out->offsets.front() != 0 || out->offsets.back() != h.entries)
    return Status::Error("the worker's output has inconsistent row offsets");
  for (int64_t r = 0; r < h.rows; ++r)
    if (out->offsets[r + 1] < out->offsets[r]) return Status::Error("the worker's output has decreasing row offsets");
  return Status::Ok();
}

}  // namespace adrs

#include "evaluator/key_reads.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>

#include <fmt/format.h>

namespace adrs {

namespace {

// The wire: a request header, then `count` int32 list entries; an answer header, then the error
// text or the floats (out, then out2).
struct RequestWire {
  int64_t row;
  int32_t op, begin, end, page_size, count, reserved;
};
struct AnswerWire {
  int32_t status;  // 0 ok, else the error text follows
  int32_t error_bytes;
  int64_t floats;  // total floats that follow (out and out2)
};

constexpr int32_t kMaxList = 1 << 22;

bool send_all(int fd, const void* data, size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::send(fd, p, size, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

// The worker's side writes with write(2) (its seccomp list has no send); the evaluator's with
// send(MSG_NOSIGNAL), so a worker that is gone never raises SIGPIPE in adrs.
bool write_all(int fd, const void* data, size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

bool recv_all(int fd, void* data, size_t size) {
  char* p = static_cast<char*>(data);
  while (size > 0) {
    const ssize_t n = ::read(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

float dot(const float* q, const float* k, int32_t d) {
  double sum = 0;
  for (int32_t c = 0; c < d; ++c) sum += static_cast<double>(q[c]) * k[c];
  return static_cast<float>(sum);
}

}  // namespace

int64_t key_read_output_floats(int32_t n, int32_t d, const KeyRequest& r) {
  const bool range_ok = r.begin >= 0 && r.begin <= r.end && r.end <= n;
  switch (r.op) {
    case kLogits: return range_ok ? r.end - r.begin : -1;
    case kLogitsOf: return r.count >= 0 && r.count <= kMaxList ? r.count : -1;
    case kReadKeys: return range_ok ? int64_t{r.end - r.begin} * d : -1;
    case kPartialLogits: return range_ok && r.count >= 0 && r.count <= d ? r.end - r.begin : -1;
    case kPageBounds: {
      if (r.page_size < 1) return -1;
      const int64_t pages = (int64_t{n} + r.page_size - 1) / r.page_size;
      return r.begin >= 0 && r.begin <= r.end && r.end <= pages ? int64_t{r.end - r.begin} * d : -1;
    }
  }
  return -1;
}

Status compute_key_read(const Workload& w, int64_t row, const KeyRequest& r, std::vector<float>* out, std::vector<float>* out2,
                        double* charge) {
  if (row < 0 || row >= w.num_rows()) return Status::Error("a key read for a row that does not exist");
  const int32_t n = w.num_keys(row), d = w.head_dim;
  const int64_t floats = key_read_output_floats(n, d, r);
  if (floats < 0)
    return Status::Error("key read out of range (op " + std::to_string(r.op) + ", [" + std::to_string(r.begin) + ", " +
                         std::to_string(r.end) + "), n = " + std::to_string(n) + "): ranges are within [0, n), lists within n keys or d channels");
  const float* q = w.query(row);
  const float* keys = w.keys(row);
  out->assign(static_cast<size_t>(floats), 0.0f);
  out2->clear();
  switch (r.op) {
    case kLogits:
      for (int32_t i = r.begin; i < r.end; ++i) (*out)[i - r.begin] = w.scale * dot(q, keys + int64_t{i} * d, d);
      *charge = r.end - r.begin;
      break;
    case kLogitsOf:
      for (int32_t j = 0; j < r.count; ++j) {
        if (r.list[j] < 0 || r.list[j] >= n) return Status::Error("logits_of: index " + std::to_string(r.list[j]) + " is outside [0, n)");
        (*out)[j] = w.scale * dot(q, keys + int64_t{r.list[j]} * d, d);
      }
      *charge = r.count;
      break;
    case kReadKeys:
      std::copy(keys + int64_t{r.begin} * d, keys + int64_t{r.end} * d, out->begin());
      *charge = r.end - r.begin;
      break;
    case kPartialLogits:
      for (int32_t j = 0; j < r.count; ++j)
        if (r.list[j] < 0 || r.list[j] >= d) return Status::Error("partial_logits: channel " + std::to_string(r.list[j]) + " is outside [0, d)");
      for (int32_t i = r.begin; i < r.end; ++i) {
        double sum = 0;
        for (int32_t j = 0; j < r.count; ++j) sum += static_cast<double>(q[r.list[j]]) * keys[int64_t{i} * d + r.list[j]];
        (*out)[i - r.begin] = static_cast<float>(w.scale * sum);
      }
      *charge = static_cast<double>(r.end - r.begin) * r.count / d;
      break;
    case kPageBounds:
      out2->assign(static_cast<size_t>(floats), 0.0f);
      for (int32_t p = r.begin; p < r.end; ++p) {
        const int64_t first = int64_t{p} * r.page_size, last = std::min<int64_t>(n, first + r.page_size);
        for (int32_t c = 0; c < d; ++c) {
          float lo = std::numeric_limits<float>::infinity(), hi = -lo;
          for (int64_t i = first; i < last; ++i) {
            lo = std::min(lo, keys[i * d + c]);
            hi = std::max(hi, keys[i * d + c]);
          }
          (*out)[int64_t{p - r.begin} * d + c] = lo;
          (*out2)[int64_t{p - r.begin} * d + c] = hi;
        }
      }
      *charge = 2.0 * (r.end - r.begin);
      break;
  }
  return Status::Ok();
}

void copy_to_error_buffer(const std::string& text, char* error, std::size_t error_size) {
  if (error_size == 0) return;
  const size_t length = std::min(text.size(), error_size - 1);
  std::memcpy(error, text.data(), length);
  error[length] = '\0';
}

int KeyClient::read(int64_t row, int32_t num_keys, int32_t head_dim, const KeyRequest& r, float* out, float* out2, char* error,
                    std::size_t error_size) {
  const int64_t floats = key_read_output_floats(num_keys, head_dim, r);
  if (floats < 0) {
    copy_to_error_buffer(fmt::format("key read out of range ([{}, {}) with n = {}, or a list longer than allowed)", r.begin, r.end, num_keys),
                         error, error_size);
    return 1;
  }
  if (r.count > 0 && !r.list) {
    copy_to_error_buffer("key read with a null list", error, error_size);
    return 1;
  }
  std::lock_guard lock(mutex_);
  RequestWire wire{row, r.op, r.begin, r.end, r.page_size, r.count, 0};
  AnswerWire answer{};
  if (!write_all(fd_, &wire, sizeof wire) || (r.count > 0 && !write_all(fd_, r.list, sizeof(int32_t) * r.count)) ||
      !recv_all(fd_, &answer, sizeof answer)) {
    copy_to_error_buffer("the evaluator's key reader is gone", error, error_size);
    return 1;
  }
  if (answer.status != 0) {
    std::string text(static_cast<size_t>(std::clamp(answer.error_bytes, 0, 4096)), '\0');
    recv_all(fd_, text.data(), text.size());
    copy_to_error_buffer(text.c_str(), error, error_size);  // up to its first NUL, as the server wrote it
    return 1;
  }
  const bool two = r.op == kPageBounds;
  if (answer.floats != floats * (two ? 2 : 1) || !recv_all(fd_, out, sizeof(float) * floats) ||
      (two && !recv_all(fd_, out2, sizeof(float) * floats))) {
    copy_to_error_buffer("the evaluator's key reader answered out of turn", error, error_size);
    return 1;
  }
  return 0;
}

KeyServer::KeyServer(const Workload& workload, int fd)
    : workload_(workload), fd_(fd), charges_(static_cast<size_t>(workload.num_rows()), 0.0) {
  thread_ = std::thread([this] {
    serve();
    // Whatever ended the conversation (the worker left, a malformed request), the worker's next
    // read gets end-of-file at once instead of waiting for the timeout.
    ::shutdown(fd_, SHUT_RDWR);
  });
}

KeyServer::~KeyServer() { stop(); }

void KeyServer::stop() {
  if (!thread_.joinable()) return;
  ::shutdown(fd_, SHUT_RDWR);  // ends a recv waiting for a worker that is gone
  thread_.join();
}

// One request at a time; anything malformed ends the conversation (the worker then fails its read).
void KeyServer::serve() {
  std::vector<int32_t> list;
  std::vector<float> out, out2;
  for (;;) {
    RequestWire wire{};
    if (!recv_all(fd_, &wire, sizeof wire)) return;
    if (wire.count < 0 || wire.count > kMaxList) return;
    list.resize(static_cast<size_t>(wire.count));
    if (wire.count > 0 && !recv_all(fd_, list.data(), sizeof(int32_t) * list.size())) return;
    const KeyRequest request{wire.op, wire.begin, wire.end, wire.page_size, wire.count, list.data()};
    double charge = 0;
    const Status s = compute_key_read(workload_, wire.row, request, &out, &out2, &charge);
    ++requests_;
    AnswerWire answer{s.ok() ? 0 : 1, s.ok() ? 0 : static_cast<int32_t>(s.message().size()),
                      s.ok() ? static_cast<int64_t>(out.size() + out2.size()) : 0};
    if (s.ok()) charges_[static_cast<size_t>(wire.row)] += charge;
    if (!send_all(fd_, &answer, sizeof answer)) return;
    const bool sent = s.ok() ? send_all(fd_, out.data(), out.size() * sizeof(float)) &&
                                   (out2.empty() || send_all(fd_, out2.data(), out2.size() * sizeof(float)))
                             : send_all(fd_, s.message().data(), s.message().size());
    if (!sent) return;
  }
}

}  // namespace adrs

#include "util/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <limits>

namespace adrs {

namespace {

// Reads the open descriptor `fd` (closed on return) to its end; at most `max_bytes`.
Status read_open_file(int fd, const std::string& path, size_t max_bytes, std::string* out) {
  struct stat st {};
  Status status;
  if (::fstat(fd, &st) != 0) {
    status = Status::Error("cannot stat " + path + ": " + std::strerror(errno));
  } else if (!S_ISREG(st.st_mode)) {
    status = Status::Error(path + " is not a regular file");
  } else if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    status = Status::Error(path + " is larger than " + std::to_string(max_bytes) + " bytes");
  } else {
    std::string text;
    char buffer[1 << 16];
    for (;;) {
      const ssize_t n = ::read(fd, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        status = Status::Error("cannot read " + path + ": " + std::strerror(errno));
        break;
      }
      if (n == 0) break;
      if (text.size() + static_cast<size_t>(n) > max_bytes) {  // it grew while we read
        status = Status::Error(path + " is larger than " + std::to_string(max_bytes) + " bytes");
        break;
      }
      text.append(buffer, static_cast<size_t>(n));
    }
    if (status.ok()) *out = std::move(text);
  }
  ::close(fd);
  return status;
}

}  // namespace

Status read_file(const std::string& path, std::string* out) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::Error("cannot open " + path + ": " + std::strerror(errno));
  return read_open_file(fd, path, std::numeric_limits<size_t>::max(), out);
}

Status read_regular_file(const std::string& path, size_t max_bytes, std::string* out) {
  // O_NONBLOCK: opening a FIFO planted under this name must not wait for a writer.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return Status::Error("cannot open " + path + ": " + std::strerror(errno));
  return read_open_file(fd, path, max_bytes, out);
}

}  // namespace adrs

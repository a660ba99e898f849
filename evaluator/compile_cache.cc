#include "evaluator/compile_cache.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <set>

#include "util/hash.h"

namespace adrs {

namespace {

constexpr char kEntryMagic[] = "adrs-compile-cache-entry 1\n";
// Sources and logs are capped far below this by the driver and the compiler runner.
constexpr size_t kMaxEntryBytes = 32u << 20;

std::string errno_text(int error) { return std::strerror(error); }

std::string temp_name(const std::string& suffix) {
  static std::atomic<uint64_t> counter{0};
  return "tmp." + std::to_string(::getpid()) + "." + std::to_string(counter.fetch_add(1)) + "." + suffix;
}

Status write_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status::Error(errno_text(n < 0 ? errno : EIO));
    data += n;
    size -= static_cast<size_t>(n);
  }
  return Status::Ok();
}

std::string encode_entry(bool compiled, const std::string& object_digest, const std::string& source,
                         const std::string& log) {
  std::string out = kEntryMagic;
  out += compiled ? "outcome compiled\n" : "outcome compile_error\n";
  out += "object " + (compiled ? object_digest : std::string("-")) + "\n";
  out += "source " + std::to_string(source.size()) + "\n" + source;
  out += "log " + std::to_string(log.size()) + "\n" + log;
  return out;
}

// Reads "<label> <value>\n" at *at.
bool read_line_field(const std::string& text, size_t* at, const std::string& label, std::string* value) {
  const size_t end = text.find('\n', *at);
  if (end == std::string::npos || text.compare(*at, label.size() + 1, label + " ") != 0) return false;
  *value = text.substr(*at + label.size() + 1, end - *at - label.size() - 1);
  *at = end + 1;
  return true;
}

bool read_blob(const std::string& text, size_t* at, const std::string& label, std::string* blob) {
  std::string length_text;
  if (!read_line_field(text, at, label, &length_text) || length_text.empty() ||
      length_text.find_first_not_of("0123456789") != std::string::npos || length_text.size() > 12)
    return false;
  const size_t length = std::stoull(length_text);
  if (length > text.size() - *at) return false;
  *blob = text.substr(*at, length);
  *at += length;
  return true;
}

}  // namespace

Status write_file_atomically(const std::string& dir, const std::string& name, const std::string& bytes) {
  const std::string temp = dir + "/" + temp_name(name);
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) return Status::Error("cannot write to the compile cache " + dir + ": " + errno_text(errno));
  Status status = write_all(fd, bytes.data(), bytes.size());
  // fsync reports the delayed ENOSPC/EIO of file systems that allocate late.
  if (status.ok() && ::fsync(fd) != 0) status = Status::Error(errno_text(errno));
  if (::close(fd) != 0 && status.ok()) status = Status::Error(errno_text(errno));
  if (status.ok() && ::rename(temp.c_str(), (dir + "/" + name).c_str()) != 0) status = Status::Error(errno_text(errno));
  if (!status.ok()) {
    ::unlink(temp.c_str());
    return Status::Error("cannot write " + name + " to the compile cache " + dir + ": " + status.message() +
                         " (free space on that file system, or set another cache directory)");
  }
  return Status::Ok();
}

int remove_stale_temp_files(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return 0;
  int removed = 0;
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    // tmp.<pid>.* of this cache, and <xxh64>.<pid>.<unique>.{cpp,so,log} of the cache format before it.
    size_t pid_at = std::string::npos;
    if (name.rfind("tmp.", 0) == 0) {
      pid_at = 4;
    } else if (name.size() > 17 && name[16] == '.' && name.find_first_not_of("0123456789abcdef") == 16) {
      pid_at = 17;
    }
    if (pid_at == std::string::npos) continue;
    const size_t end = name.find('.', pid_at);
    if (end == std::string::npos || end == pid_at) continue;
    const std::string pid_text = name.substr(pid_at, end - pid_at);
    if (pid_text.find_first_not_of("0123456789") != std::string::npos || pid_text.size() > 9) continue;
    const pid_t pid = static_cast<pid_t>(std::stol(pid_text));
    const bool gone = ::kill(pid, 0) != 0 && errno == ESRCH;
    if (gone && ::unlinkat(::dirfd(d), name.c_str(), 0) == 0) ++removed;
  }
  ::closedir(d);
  return removed;
}

Status CompileCache::Open(const std::string& dir, std::unique_ptr<CompileCache>* out) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) return Status::Fault("cannot create the compile cache " + dir + ": " + error.message());
  static std::mutex mutex;
  static std::set<std::string> cleaned;
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (cleaned.insert(dir).second) remove_stale_temp_files(dir);
  }
  out->reset(new CompileCache(dir));
  return Status::Ok();
}

CompileCache::Lookup CompileCache::find(const std::string& key, const std::string& source) const {
  Lookup lookup;
  std::string text;
  if (!read_regular_file(dir_ + "/" + key + ".entry", kMaxEntryBytes, &text).ok()) return lookup;
  size_t at = sizeof kEntryMagic - 1;
  std::string outcome, digest, stored_source, log;
  if (text.compare(0, at, kEntryMagic) != 0 || !read_line_field(text, &at, "outcome", &outcome) ||
      !read_line_field(text, &at, "object", &digest) || !read_blob(text, &at, "source", &stored_source) ||
      !read_blob(text, &at, "log", &log) || at != text.size())
    return lookup;
  // The key is only an address: the stored source decides whether this entry is the candidate's.
  if (stored_source != source) return lookup;
  if (outcome == "compile_error") {
    lookup.hit = Hit::kCompileError;
    lookup.log = log;
    return lookup;
  }
  if (outcome != "compiled") return lookup;
  const std::string so_path = dir_ + "/" + key + ".so";
  std::string object;
  if (!read_regular_file(so_path, kMaxMaskerObjectBytes, &object).ok() || sha256_hex(object) != digest) return lookup;
  lookup.hit = Hit::kCompiled;
  lookup.so_path = so_path;
  lookup.log = log;
  return lookup;
}

Status CompileCache::store_compiled(const std::string& key, const std::string& source, const std::string& log,
                                    int object_fd, size_t object_size, std::string* so_path) const {
  if (object_size > kMaxMaskerObjectBytes)
    return Status::Error("the masker object is larger than " + std::to_string(kMaxMaskerObjectBytes >> 20) + " MiB");
  std::string object(object_size, '\0');
  size_t done = 0;
  while (done < object_size) {
    const ssize_t n = ::pread(object_fd, object.data() + done, object_size - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status::Error("cannot read the compiled object: " + errno_text(n < 0 ? errno : EIO));
    done += static_cast<size_t>(n);
  }
  // The object first, the entry that vouches for it second: a crash between them leaves an object
  // that no entry names (a miss), never an entry naming a missing or different object.
  if (Status s = write_file_atomically(dir_, key + ".so", object); !s.ok()) return s;
  if (Status s = write_file_atomically(dir_, key + ".entry", encode_entry(true, sha256_hex(object), source, log)); !s.ok())
    return s;
  *so_path = dir_ + "/" + key + ".so";
  return Status::Ok();
}

Status CompileCache::store_compile_error(const std::string& key, const std::string& source,
                                         const std::string& log) const {
  return write_file_atomically(dir_, key + ".entry", encode_entry(false, "", source, log));
}

}  // namespace adrs

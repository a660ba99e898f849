// An LD_PRELOAD fault injector for the `adrs` process, in the spirit of SQLite's test VFS shims:
// it counts the I/O calls that touch a chosen path and makes the Nth fail, so a test can sweep N
// over a whole run and check that every fault is survived (tests/fault_injection_test.cc).
//
// Environment (read once, at load):
//   ADRS_FAULT_PATH   only calls on paths containing this text count (descriptors are resolved
//                     through /proc/self/fd); required, so stdout and logs are never touched
//   ADRS_FAULT_OPS    comma list of: write (write, pwrite, writev), fsync (fsync, fdatasync),
//                     open (open, openat), create (mkdir, rename, ftruncate, posix_fallocate)
//   ADRS_FAULT_AT     the counted call that fails (1-based); 0 or unset: count only
//   ADRS_FAULT_ERRNO  ENOSPC, EIO or EMFILE (the call returns -1 with it), or KILL (SIGKILL
//                     before the call: "killed at this step")
//   ADRS_FAULT_STICKY 1: every counted call from the Nth on fails too (a disk that stays full)
//   ADRS_FAULT_COUNT_FILE  at exit, "write N\nfsync N\nopen N\ncreate N\n": the calls of each kind
//                     on the path, so a test can choose where to sweep
// Only a process whose executable is named `adrs` is affected; the variable LD_PRELOAD is removed
// at load, so compilers and workers started by adrs run without the shim.
#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

// Plain data, constant-initialized: a C++ constructor of a global could run after load() and
// reset what it read.
struct Config {
  bool active;
  char path[4096];
  bool ops[4];  // write, fsync, open, create
  long at;
  int error;  // with kill: unused
  bool kill;
  bool sticky;
  char count_file[4096];
};

enum Op { kWrite = 0, kFsync = 1, kOpen = 2, kCreate = 3 };

Config g_config{};
std::atomic<long> g_count{0};          // counted calls of the enabled kinds, together
std::atomic<long> g_seen[4] = {0, 0, 0, 0};  // calls of each kind on the path (enabled or not), for the count file
thread_local bool t_inside = false;  // our own readlink/snprintf must not count

template <typename F>
F real(const char* name) {
  return reinterpret_cast<F>(::dlsym(RTLD_NEXT, name));
}

bool path_matches(const char* path) { return path && std::strstr(path, g_config.path) != nullptr; }

bool fd_matches(int fd) {
  char link[64], target[4096];
  std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  const ssize_t n = ::readlink(link, target, sizeof target - 1);
  if (n <= 0) return false;
  target[n] = '\0';
  return path_matches(target);
}

// Whether this call fails; counts it when it touches the chosen path.
bool should_fail(Op op, bool matches) {
  if (!g_config.active || !matches) return false;
  ++g_seen[op];
  if (!g_config.ops[op]) return false;
  const long n = ++g_count;
  if (g_config.at <= 0) return false;
  if (n == g_config.at || (g_config.sticky && n > g_config.at)) {
    if (g_config.kill) ::raise(SIGKILL);
    errno = g_config.error;
    return true;
  }
  return false;
}

bool fd_call_fails(Op op, int fd) {
  if (!g_config.active || t_inside) return false;
  t_inside = true;
  const bool matches = fd_matches(fd);
  t_inside = false;
  return should_fail(op, matches);
}

bool path_call_fails(Op op, const char* path) {
  if (!g_config.active || t_inside) return false;
  return should_fail(op, path_matches(path));
}

__attribute__((constructor)) void load() {
  char exe[4096];
  const ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return;
  exe[n] = '\0';
  const char* base = std::strrchr(exe, '/');
  base = base ? base + 1 : exe;
  if (std::strcmp(base, "adrs") != 0) return;
  ::unsetenv("LD_PRELOAD");
  const char* path = std::getenv("ADRS_FAULT_PATH");
  if (!path || !*path) return;
  std::snprintf(g_config.path, sizeof g_config.path, "%s", path);
  const std::string ops = std::getenv("ADRS_FAULT_OPS") ? std::getenv("ADRS_FAULT_OPS") : "write";
  const char* names[] = {"write", "fsync", "open", "create"};
  for (int i = 0; i < 4; ++i) g_config.ops[i] = ops.find(names[i]) != std::string::npos;
  g_config.at = std::getenv("ADRS_FAULT_AT") ? std::atol(std::getenv("ADRS_FAULT_AT")) : 0;
  const std::string error = std::getenv("ADRS_FAULT_ERRNO") ? std::getenv("ADRS_FAULT_ERRNO") : "ENOSPC";
  g_config.kill = error == "KILL";
  g_config.error = error == "EIO" ? EIO : error == "EMFILE" ? EMFILE : ENOSPC;
  g_config.sticky = std::getenv("ADRS_FAULT_STICKY") && std::string(std::getenv("ADRS_FAULT_STICKY")) == "1";
  if (const char* file = std::getenv("ADRS_FAULT_COUNT_FILE")) std::snprintf(g_config.count_file, sizeof g_config.count_file, "%s", file);
  g_config.active = true;
}

__attribute__((destructor)) void unload() {
  if (!g_config.active || !g_config.count_file[0]) return;
  g_config.active = false;  // the count file itself must not count
  if (FILE* f = std::fopen(g_config.count_file, "w")) {
    std::fprintf(f, "write %ld\nfsync %ld\nopen %ld\ncreate %ld\n", g_seen[kWrite].load(), g_seen[kFsync].load(),
                 g_seen[kOpen].load(), g_seen[kCreate].load());
    std::fclose(f);
  }
}

}  // namespace

extern "C" {

ssize_t write(int fd, const void* buf, size_t count) {
  if (fd_call_fails(kWrite, fd)) return -1;
  static auto next = real<ssize_t (*)(int, const void*, size_t)>("write");
  return next(fd, buf, count);
}

ssize_t pwrite(int fd, const void* buf, size_t count, off_t offset) {
  if (fd_call_fails(kWrite, fd)) return -1;
  static auto next = real<ssize_t (*)(int, const void*, size_t, off_t)>("pwrite");
  return next(fd, buf, count, offset);
}

ssize_t pwrite64(int fd, const void* buf, size_t count, off64_t offset) {
  if (fd_call_fails(kWrite, fd)) return -1;
  static auto next = real<ssize_t (*)(int, const void*, size_t, off64_t)>("pwrite64");
  return next(fd, buf, count, offset);
}

ssize_t writev(int fd, const struct iovec* iov, int iovcnt) {
  if (fd_call_fails(kWrite, fd)) return -1;
  static auto next = real<ssize_t (*)(int, const struct iovec*, int)>("writev");
  return next(fd, iov, iovcnt);
}

int fsync(int fd) {
  if (fd_call_fails(kFsync, fd)) return -1;
  static auto next = real<int (*)(int)>("fsync");
  return next(fd);
}

int fdatasync(int fd) {
  if (fd_call_fails(kFsync, fd)) return -1;
  static auto next = real<int (*)(int)>("fdatasync");
  return next(fd);
}

int ftruncate(int fd, off_t length) {
  if (fd_call_fails(kCreate, fd)) return -1;
  static auto next = real<int (*)(int, off_t)>("ftruncate");
  return next(fd, length);
}

int ftruncate64(int fd, off64_t length) {
  if (fd_call_fails(kCreate, fd)) return -1;
  static auto next = real<int (*)(int, off64_t)>("ftruncate64");
  return next(fd, length);
}

int posix_fallocate(int fd, off_t offset, off_t length) {
  if (fd_call_fails(kCreate, fd)) return errno;  // posix_fallocate returns the error
  static auto next = real<int (*)(int, off_t, off_t)>("posix_fallocate");
  return next(fd, offset, length);
}

int posix_fallocate64(int fd, off64_t offset, off64_t length) {
  if (fd_call_fails(kCreate, fd)) return errno;
  static auto next = real<int (*)(int, off64_t, off64_t)>("posix_fallocate64");
  return next(fd, offset, length);
}

int open(const char* path, int flags, ...) {
  mode_t mode = 0;
  if (flags & (O_CREAT | O_TMPFILE)) {
    va_list args;
    va_start(args, flags);
    mode = static_cast<mode_t>(va_arg(args, int));
    va_end(args);
  }
  if (path_call_fails(kOpen, path)) return -1;
  static auto next = real<int (*)(const char*, int, ...)>("open");
  return next(path, flags, mode);
}

int open64(const char* path, int flags, ...) {
  mode_t mode = 0;
  if (flags & (O_CREAT | O_TMPFILE)) {
    va_list args;
    va_start(args, flags);
    mode = static_cast<mode_t>(va_arg(args, int));
    va_end(args);
  }
  if (path_call_fails(kOpen, path)) return -1;
  static auto next = real<int (*)(const char*, int, ...)>("open64");
  return next(path, flags, mode);
}

int openat(int dirfd, const char* path, int flags, ...) {
  mode_t mode = 0;
  if (flags & (O_CREAT | O_TMPFILE)) {
    va_list args;
    va_start(args, flags);
    mode = static_cast<mode_t>(va_arg(args, int));
    va_end(args);
  }
  if (path_call_fails(kOpen, path)) return -1;
  static auto next = real<int (*)(int, const char*, int, ...)>("openat");
  return next(dirfd, path, flags, mode);
}

int mkdir(const char* path, mode_t mode) {
  if (path_call_fails(kCreate, path)) return -1;
  static auto next = real<int (*)(const char*, mode_t)>("mkdir");
  return next(path, mode);
}

int rename(const char* from, const char* to) {
  if (path_call_fails(kCreate, to)) return -1;
  static auto next = real<int (*)(const char*, const char*)>("rename");
  return next(from, to);
}

int renameat2(int from_dir, const char* from, int to_dir, const char* to, unsigned int flags) {
  if (path_call_fails(kCreate, to)) return -1;
  static auto next = real<int (*)(int, const char*, int, const char*, unsigned int)>("renameat2");
  return next(from_dir, from, to_dir, to, flags);
}

}  // extern "C"

#include "evaluator/compile_spawn.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>

#include "evaluator/compile_worker.h"
#include "util/resources.h"
#include "util/subprocess.h"

namespace adrs {

namespace {

namespace cw = compile_worker;

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

// Closes descriptors at scope exit.
struct Fds {
  std::vector<int> fds;
  int add(int fd) {
    if (fd >= 0) fds.push_back(fd);
    return fd;
  }
  ~Fds() {
    for (int fd : fds) ::close(fd);
  }
};

// A descriptor numbered 10 or more, close-on-exec, so the spawn's dup2 onto 3..5 never clobbers
// one of our own inputs.
int high_fd(int fd) {
  if (fd < 0) return fd;
  const int high = ::fcntl(fd, F_DUPFD_CLOEXEC, 10);
  ::close(fd);
  return high;
}

int sealed_memfd(const char* name, const std::string& bytes) {
  const int fd = ::memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return -1;
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      return -1;
    }
    done += static_cast<size_t>(n);
  }
  ::fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL);
  return high_fd(fd);
}

std::vector<char*> c_strings(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (const std::string& s : strings) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

void append_capped(JailRun* run, const char* data, size_t size, size_t cap, size_t* dropped) {
  const size_t room = run->log.size() < cap ? cap - run->log.size() : 0;
  run->log.append(data, std::min(room, size));
  *dropped += size - std::min(room, size);
}

std::vector<std::string> jail_argv(const JailRequest& request) {
  std::vector<std::string> argv = {worker_binary(), "compile",
                                   "--parent", std::to_string(::getpid()),
                                   "--compiler", request.compiler,
                                   "--source-path", request.source_path,
                                   "--output-path", request.output_path,
                                   "--memory-mb", std::to_string(request.memory_mb),
                                   "--cpu-seconds", std::to_string(static_cast<long>(request.timeout_s) + 1),
                                   "--max-file-mb", std::to_string(request.max_file_mb),
                                   "--scratch-mb", std::to_string(request.max_file_mb * 4 + 256)};
  // The jail binds only absolute paths; a run's default cache (runs/<name>/cache) is relative.
  if (!request.pch_dir.empty()) argv.insert(argv.end(), {"--pch-dir", std::filesystem::absolute(request.pch_dir).string()});
  argv.push_back("--");
  argv.insert(argv.end(), request.args.begin(), request.args.end());
  return argv;
}

// The descriptors the compile worker gets: stdout and stderr to the log pipe, and the source,
// header and object memfds on compile_worker's fixed numbers.
struct JailFds {
  int log_write = -1;
  int source = -1;
  int header = -1;
  int object = -1;
};

// Starts the compile worker in its own process group with default signals and an empty
// environment (nothing of ours, API keys included, reaches the compiler). Returns posix_spawn's
// error number (0 on success).
int spawn_jail(const std::vector<std::string>& argv, const JailFds& fds, pid_t* pid) {
  const std::vector<std::string> env;
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, fds.log_write, STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, fds.log_write, STDERR_FILENO);
  posix_spawn_file_actions_adddup2(&actions, fds.source, cw::kSourceFd);
  posix_spawn_file_actions_adddup2(&actions, fds.header, cw::kHeaderFd);
  posix_spawn_file_actions_adddup2(&actions, fds.object, cw::kObjectFd);
  posix_spawn_file_actions_addclosefrom_np(&actions, cw::kObjectFd + 1);
  sigset_t defaults, empty;
  sigfillset(&defaults);
  sigemptyset(&empty);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  std::vector<char*> c_argv = c_strings(argv), c_env = c_strings(env);
  const int rc = ::posix_spawn(pid, c_argv[0], &actions, &attr, c_argv.data(), c_env.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  return rc;
}

// How the compile worker ended, as wait4 saw it, and how much of its output was over the cap.
struct JailEnd {
  int wstatus = 0;
  rusage usage{};
  size_t dropped = 0;
};

// Collects the worker's output (capped) until it exits, its deadline passes or the caller
// cancels; the last two kill its process group. Then drains the pipe.
JailEnd watch_jail(pid_t pid, int log_read, const JailRequest& request,
                   std::chrono::steady_clock::time_point start, JailRun* run) {
  const auto deadline = start + std::chrono::duration<double>(request.timeout_s);
  JailEnd end;
  bool open = true;
  char buffer[1 << 14];
  while (true) {
    if (open) {
      pollfd p{log_read, POLLIN, 0};
      if (::poll(&p, 1, 20) > 0) {
        const ssize_t n = ::read(log_read, buffer, sizeof buffer);
        if (n > 0) append_capped(run, buffer, static_cast<size_t>(n), request.max_log_bytes, &end.dropped);
        else if (n == 0 || errno != EINTR) open = false;
      }
    } else {
      ::usleep(20000);
    }
    const pid_t waited = ::wait4(pid, &end.wstatus, WNOHANG, &end.usage);
    if (waited == pid || (waited < 0 && errno != EINTR)) break;
    const bool late = std::chrono::steady_clock::now() >= deadline;
    const bool cancel = request.cancel && request.cancel->load();
    if (late || cancel) {
      run->timed_out = late;
      run->cancelled = cancel && !late;
      ::kill(-pid, SIGKILL);
      while (::wait4(pid, &end.wstatus, 0, &end.usage) < 0 && errno == EINTR) {
      }
      break;
    }
  }
  // Whatever is left of the group goes (the jail's PID namespace went with its init already).
  ::kill(-pid, SIGKILL);
  // Every writer is gone: read what is left in the pipe without blocking.
  ::fcntl(log_read, F_SETFL, O_NONBLOCK);
  for (ssize_t n; open && (n = ::read(log_read, buffer, sizeof buffer)) > 0;)
    append_capped(run, buffer, static_cast<size_t>(n), request.max_log_bytes, &end.dropped);
  return end;
}

// Fills the run's log note, times and exit from how the worker ended.
void record_end(const JailEnd& end, std::chrono::steady_clock::time_point start, JailRun* run) {
  if (end.dropped > 0) run->log += "\n[adrs: " + std::to_string(end.dropped) + " more bytes of compiler output dropped]\n";
  for (char& c : run->log)
    if (!(c == '\n' || c == '\t' || (static_cast<unsigned char>(c) >= 32 && c != 127))) c = '?';
  run->wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  run->cpu_s = static_cast<double>(end.usage.ru_utime.tv_sec + end.usage.ru_stime.tv_sec) +
               1e-6 * static_cast<double>(end.usage.ru_utime.tv_usec + end.usage.ru_stime.tv_usec);
  if (run->timed_out || run->cancelled) return;
  if (WIFEXITED(end.wstatus)) {
    run->exited = true;
    run->exit_code = WEXITSTATUS(end.wstatus);
  } else if (WIFSIGNALED(end.wstatus)) {
    run->signal = WTERMSIG(end.wstatus);
  }
}

}  // namespace

JailRun run_compile_jail(const JailRequest& request) {
  JailRun run;
  run.start = check_file_size_limit(static_cast<uint64_t>(request.max_file_mb) << 20, "the compiler's object");
  if (!run.start.ok()) return run;
  const auto start = std::chrono::steady_clock::now();
  Fds fds;
  JailFds jail_fds;
  jail_fds.source = fds.add(sealed_memfd("adrs-masker-source", request.source));
  jail_fds.header = fds.add(sealed_memfd("adrs-masker-api", request.header));
  const int object = jail_fds.object = high_fd(::memfd_create("adrs-masker-object", MFD_CLOEXEC));
  int log_pipe[2] = {-1, -1};
  if (jail_fds.source < 0 || jail_fds.header < 0 || object < 0 || ::pipe2(log_pipe, O_CLOEXEC) != 0) {
    run.start = Status::Error(errno_text("cannot prepare the compiler jail (descriptors)"));
    if (object >= 0) ::close(object);
    return run;
  }
  fds.add(log_pipe[0]);
  jail_fds.log_write = fds.add(high_fd(log_pipe[1]));

  const std::vector<std::string> argv = jail_argv(request);
  pid_t pid = -1;
  if (const int rc = spawn_jail(argv, jail_fds, &pid); rc != 0) {
    run.start = Status::Error("cannot start " + argv[0] + ": " + std::strerror(rc));
    ::close(object);
    return run;
  }
  ::close(jail_fds.log_write);
  fds.fds.pop_back();

  record_end(watch_jail(pid, log_pipe[0], request, start, &run), start, &run);
  struct stat st {};
  if (::fstat(object, &st) == 0 && st.st_size >= 0) run.object_size = static_cast<size_t>(st.st_size);
  run.object_fd = object;
  return run;
}

}  // namespace adrs

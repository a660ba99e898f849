#include "util/subprocess.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstring>
#include <thread>
#include <utility>

namespace adrs {

namespace {

std::vector<char*> c_strings(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (const std::string& s : strings) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

// The descriptors passed to the child, first duplicated above every target number so that the
// spawn's dup2s cannot overwrite a source that happens to be 3, 4, ... in this process.
struct StagedFds {
  std::vector<int> fds;  // become 3, 4, ... in the child
  int output = -1;       // becomes stdout and stderr, when the caller passes one
  bool ok = true;

  explicit StagedFds(const ProcessOptions& options) {
    for (int fd : options.fds) fds.push_back(::fcntl(fd, F_DUPFD_CLOEXEC, 100));
    output = options.output_fd >= 0 ? ::fcntl(options.output_fd, F_DUPFD_CLOEXEC, 100) : -1;
    ok = std::find(fds.begin(), fds.end(), -1) == fds.end() && (options.output_fd < 0 || output >= 0);
  }
  StagedFds(const StagedFds&) = delete;
  StagedFds& operator=(const StagedFds&) = delete;
  ~StagedFds() { close(); }
  void close() {
    for (int& fd : fds)
      if (fd >= 0) ::close(std::exchange(fd, -1));
    if (output >= 0) ::close(std::exchange(output, -1));
  }
};

// Starts the child: stdin from /dev/null, stdout and stderr to the output descriptor or file, the
// staged descriptors from 3 on and nothing else. Returns posix_spawn's error number (0 on success).
int spawn_child(const ProcessOptions& options, const StagedFds& staged, pid_t* pid) {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  const std::string output = options.output_path.empty() ? "/dev/null" : options.output_path;
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  if (staged.output >= 0)
    posix_spawn_file_actions_adddup2(&actions, staged.output, STDOUT_FILENO);
  else
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, output.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  for (size_t i = 0; i < staged.fds.size(); ++i)
    posix_spawn_file_actions_adddup2(&actions, staged.fds[i], 3 + static_cast<int>(i));
  // Whatever else this process holds (a libcurl socket, a database, another evaluation's files)
  // never reaches the child, even where someone forgot O_CLOEXEC.
  posix_spawn_file_actions_addclosefrom_np(&actions, 3 + static_cast<int>(staged.fds.size()));
  if (!options.cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, options.cwd.c_str());
  // Own process group, so that a kill reaches everything the child started; default signal
  // dispositions and an empty signal mask, whatever the driver had.
  sigset_t defaults, empty;
  sigfillset(&defaults);
  sigemptyset(&empty);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  std::vector<char*> argv = c_strings(options.argv);
  std::vector<char*> envp = c_strings(options.env);
  const int rc = posix_spawn(pid, argv[0], &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  return rc;
}

// Waits for the child (polling, with a growing pause) until it exits, its deadline passes or the
// caller cancels; the last two kill its process group. Returns the wait status.
int wait_for_child(pid_t pid, const ProcessOptions& options, std::chrono::steady_clock::time_point start,
                   ProcessResult* result) {
  const auto deadline = start + std::chrono::duration<double>(options.timeout_s);
  auto pause = std::chrono::microseconds(200);
  int wstatus = 0;
  for (;;) {
    const pid_t done = ::waitpid(pid, &wstatus, WNOHANG);
    if (done == pid) break;
    if (done < 0 && errno != EINTR) break;
    const bool late = options.timeout_s > 0 && std::chrono::steady_clock::now() >= deadline;
    const bool cancel = options.cancel && options.cancel->load();
    if (late || cancel) {
      result->timed_out = late;
      result->cancelled = cancel && !late;
      ::kill(-pid, SIGKILL);
      while (::waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
      }
      break;
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(10000));
  }
  return wstatus;
}

}  // namespace

ProcessResult run_process(const ProcessOptions& options) {
  ProcessResult result;
  const auto start = std::chrono::steady_clock::now();
  StagedFds staged(options);
  if (!staged.ok) {
    const int error = errno;
    staged.close();
    result.start = Status::Error("cannot pass descriptors to " + options.argv[0] + ": " + std::strerror(error));
    return result;
  }
  pid_t pid = -1;
  const int rc = spawn_child(options, staged, &pid);
  staged.close();
  result.pid = pid;
  if (rc != 0) {
    result.start = Status::Error("cannot start " + options.argv[0] + ": " + std::strerror(rc));
    return result;
  }
  const int wstatus = wait_for_child(pid, options, start, &result);
  // Whatever the child left behind in its group goes too.
  ::kill(-pid, SIGKILL);
  result.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (WIFEXITED(wstatus)) {
    result.exited = true;
    result.exit_code = WEXITSTATUS(wstatus);
  } else if (WIFSIGNALED(wstatus)) {
    result.signal = WTERMSIG(wstatus);
  }
  return result;
}

std::string read_fd_tail(int fd, size_t max_bytes) {
  struct stat st {};
  if (fd < 0 || ::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return "";
  const off_t from = std::max<off_t>(0, st.st_size - static_cast<off_t>(max_bytes));
  std::string text(static_cast<size_t>(st.st_size - from), '\0');
  const ssize_t got = ::pread(fd, text.data(), text.size(), from);
  text.resize(got > 0 ? static_cast<size_t>(got) : 0);
  for (char& c : text)
    if (!(c == '\n' || c == '\t' || (static_cast<unsigned char>(c) >= 32 && c != 127))) c = '?';
  return text;
}

std::string signal_description(int signal) {
  const char* name = sigabbrev_np(signal);
  const char* what = sigdescr_np(signal);
  return std::string("SIG") + (name ? name : std::to_string(signal)) + " (" + (what ? what : "unknown") + ")";
}

Status check_file_size_limit(uint64_t bytes, const std::string& what) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_FSIZE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur >= bytes)
    return Status::Ok();
  return Status::Fault("disk full as far as adrs can tell: this process's file-size limit (ulimit -f) is " +
                       std::to_string(limit.rlim_cur >> 10) + " KiB, below the " + std::to_string(bytes >> 20) +
                       " MiB " + what + " may need; raise it (ulimit -f unlimited), then resume");
}

std::string executable_dir() {
  char buffer[PATH_MAX];
  const ssize_t length = ::readlink("/proc/self/exe", buffer, sizeof buffer - 1);
  if (length <= 0) return ".";
  std::string path(buffer, static_cast<size_t>(length));
  return path.substr(0, path.find_last_of('/'));
}

}  // namespace adrs

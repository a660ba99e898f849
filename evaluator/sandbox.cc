#include "evaluator/sandbox.h"

#include <fcntl.h>
#include <linux/landlock.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "evaluator/seccomp_policy.h"
#include "evaluator/worker_exit.h"
#include "evaluator/workload.h"

// Older kernel headers (Debian 12's) predate Landlock ABI 3; the value is part of the kernel ABI.
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif

namespace adrs {

namespace {

int g_message_fd = -1;
const Workload* g_workload = nullptr;
thread_local long t_current_row = -1;

// Async-signal-safe message assembly.
struct SafeText {
  char buffer[512];
  size_t length = 0;
  void add(const char* text) {
    while (*text && length < sizeof buffer - 1) buffer[length++] = *text++;
  }
  void add_number(long value) {
    char digits[24];
    int count = 0;
    const bool negative = value < 0;
    unsigned long magnitude = negative ? 0UL - static_cast<unsigned long>(value) : static_cast<unsigned long>(value);
    do {
      digits[count++] = static_cast<char>('0' + magnitude % 10);
      magnitude /= 10;
    } while (magnitude && count < 23);
    if (negative) add("-");
    while (count > 0 && length < sizeof buffer - 1) buffer[length++] = digits[--count];
  }
  void write_to(int fd) {
    if (fd >= 0) {
      ssize_t ignored = ::write(fd, buffer, length);
      (void)ignored;
    }
  }
};

void add_row(SafeText& text) {
  if (t_current_row >= 0) {
    text.add(" while selecting row ");
    text.add_number(t_current_row);
    if (g_workload) {
      const RowInfo info = g_workload->row_info(t_current_row);
      const CallInfo& call = g_workload->calls[info.call];
      text.add(" (layer ");
      text.add_number(call.layer);
      text.add(", step ");
      text.add_number(call.step);
      text.add(", head ");
      text.add_number(info.head);
      text.add(")");
    }
  }
}

void on_forbidden_syscall(int, siginfo_t* info, void*) {
  SafeText text;
  text.add("the masker made a forbidden system call: ");
  const char* name = nullptr;
  const char* why = "";
  if (describe_trapped_call(info->si_syscall, &name, &why)) {
    text.add(name);
    text.add(" (");
    text.add(why);
    text.add(")");
  } else {
    text.add("number ");
    text.add_number(info->si_syscall);
  }
  add_row(text);
  text.add("\n");
  text.write_to(g_message_fd);
  ::_exit(worker_exit::kForbiddenSyscall);
}

void on_crash(int signal, siginfo_t*, void*) {
  SafeText text;
  text.add(signal == SIGXCPU ? "the masker used up its CPU time" : signal == SIGXFSZ ? "the masker wrote too much" : "the masker crashed");
  add_row(text);
  text.add("\n");
  text.write_to(g_message_fd);
  // As PID 1 of its namespace the worker cannot die of a signal it raises itself; 128 + signal
  // is how the evaluator reads a crash (after "ready", so it is the masker's outcome either way).
  ::_exit(128 + signal);
}

// Landlock: only the listed paths stay reachable. Returns a summary for the worker log.
std::string restrict_filesystem(const std::string& scratch_dir, int masker_fd) {
  const long abi = ::syscall(SYS_landlock_create_ruleset, nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION);
  if (abi < 1) return "no filesystem restriction (Landlock unavailable)";
  uint64_t read = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_EXECUTE;
  uint64_t handled = read | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR |
                     LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR |
                     LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO |
                     LANDLOCK_ACCESS_FS_MAKE_BLOCK | LANDLOCK_ACCESS_FS_MAKE_SYM;
  if (abi >= 2) handled |= LANDLOCK_ACCESS_FS_REFER;
  if (abi >= 3) handled |= LANDLOCK_ACCESS_FS_TRUNCATE;
  landlock_ruleset_attr attr{};
  attr.handled_access_fs = handled;
  const int ruleset = static_cast<int>(::syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0));
  if (ruleset < 0) return std::string("no filesystem restriction (") + std::strerror(errno) + ")";
  const uint64_t file_read = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_EXECUTE;
  auto allow = [&](const std::string& path, uint64_t access) {
    const int fd = ::open(path.c_str(), O_PATH | O_CLOEXEC);
    if (fd < 0) return;
    struct stat st {};
    if (::fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode)) access &= file_read | LANDLOCK_ACCESS_FS_WRITE_FILE |
                                                                   (abi >= 3 ? LANDLOCK_ACCESS_FS_TRUNCATE : 0);
    landlock_path_beneath_attr rule{};
    rule.allowed_access = access & handled;
    rule.parent_fd = fd;
    ::syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &rule, 0);
    ::close(fd);
  };
  // System libraries (the masker links libstdc++), the loader cache, a few device files, and the
  // scratch directory that holds the masker's own copy.
  for (const char* dir : {"/usr", "/lib", "/lib64", "/lib32", "/libx32"}) allow(dir, read);
  for (const char* file : {"/etc/ld.so.cache", "/dev/urandom", "/dev/zero"}) allow(file, file_read);
  allow("/dev/null", file_read | LANDLOCK_ACCESS_FS_WRITE_FILE);
  if (!scratch_dir.empty()) allow(scratch_dir, handled);
  if (masker_fd >= 0) {
    // Without a private root the masker is loaded through its descriptor: allow just that file.
    landlock_path_beneath_attr rule{};
    rule.allowed_access = file_read;
    rule.parent_fd = masker_fd;
    ::syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &rule, 0);
  }
  const bool ok = ::syscall(SYS_landlock_restrict_self, ruleset, 0) == 0;
  ::close(ruleset);
  return ok ? "filesystem restricted (Landlock ABI " + std::to_string(abi) + ")"
            : std::string("no filesystem restriction (") + std::strerror(errno) + ")";
}

}  // namespace

void apply_resource_limits(long memory_mb, long cpu_seconds, long max_file_mb) {
  auto set = [](int resource, rlim_t value) {
    const rlimit limit{value, value};
    ::setrlimit(resource, &limit);
  };
  if (memory_mb > 0) set(RLIMIT_AS, static_cast<rlim_t>(memory_mb) << 20);
  if (cpu_seconds > 0) set(RLIMIT_CPU, static_cast<rlim_t>(cpu_seconds));
  if (max_file_mb > 0) set(RLIMIT_FSIZE, static_cast<rlim_t>(max_file_mb) << 20);
  set(RLIMIT_CORE, 0);
}

bool follow_parent(int expected_parent) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  return ::getppid() == expected_parent;
}

bool enter_sandbox(int message_fd, const std::string& scratch_dir, int masker_fd, std::string* summary_out) {
  g_message_fd = message_fd;
  std::string& summary = *summary_out;
  // Loading through /proc/self/fd needs our /proc entries, which a non-dumpable process loses.
  ::prctl(PR_SET_DUMPABLE, masker_fd >= 0 ? 1 : 0);
  ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  summary = restrict_filesystem(scratch_dir, masker_fd);

  struct sigaction action {};
  action.sa_sigaction = on_forbidden_syscall;
  action.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGSYS, &action, nullptr);
  const Status s = load_worker_seccomp_policy(::getpid());
  summary += s.ok() ? ", seccomp allow list (kills on anything else)" : ", seccomp failed: " + s.message();
  return s.ok();
}

void set_current_row(long row) { t_current_row = row; }

void set_crash_workload(const Workload* workload) { g_workload = workload; }

void install_crash_reporters(int message_fd) {
  g_message_fd = message_fd;
  prepare_thread_for_crash_reports();
  struct sigaction action {};
  action.sa_sigaction = on_crash;
  action.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&action.sa_mask);
  for (int signal : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGXCPU, SIGXFSZ, SIGTRAP})
    ::sigaction(signal, &action, nullptr);
}

void prepare_thread_for_crash_reports() {
  static constexpr size_t kSize = 64 * 1024;
  thread_local std::vector<char> stack(kSize);
  stack_t alternate{};
  alternate.ss_sp = stack.data();
  alternate.ss_size = kSize;
  ::sigaltstack(&alternate, nullptr);
}

}  // namespace adrs

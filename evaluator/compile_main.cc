// adrs-worker compile: runs the compiler inside a jail. Protocol, layout and exit codes:
// evaluator/compile_worker.h. The jail is evaluator/jail.h's (the masker worker's too): this
// process enters it and goes on as the jail's init (PID 1 of a new PID namespace: fills /src and
// /adrs and seals them read-only, reaps, interprets the compiler's status, copies the output out)
// while keepers outside mirror its exit; the compiler itself runs unprivileged, fixed environment.
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "evaluator/compile_worker.h"
#include "evaluator/jail.h"

namespace adrs {
namespace {

namespace cw = compile_worker;

constexpr uid_t kNobody = 65534;
constexpr char kWrapper[] =
    "#!/bin/sh\n"
    "\"$@\"\n"
    "status=$?\n"
    "if [ $status -gt 128 ] && [ $status -lt 192 ]; then echo \"$((status - 128))\" >> /status/signal; fi\n"
    "exit $status\n";

struct Options {
  int parent = -1;
  std::string compiler, source_path, output_path, pch_dir;
  long memory_mb = 4096, cpu_seconds = 60, max_file_mb = 64, scratch_mb = 512;
  std::vector<std::string> args;
};

[[noreturn]] void die(int code, const std::string& message) {
  const std::string line = "adrs-worker compile: " + message + "\n";
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
  ::_exit(code);
}

std::string error_text(const std::string& what) { return what + ": " + std::strerror(errno); }

bool parse(int argc, char** argv, Options* o) {
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--") {
      o->args.assign(argv + i + 1, argv + argc);
      break;
    }
    if (i + 1 >= argc) return false;
    const std::string v = argv[++i];
    if (a == "--parent") o->parent = std::atoi(v.c_str());
    else if (a == "--compiler") o->compiler = v;
    else if (a == "--source-path") o->source_path = v;
    else if (a == "--output-path") o->output_path = v;
    else if (a == "--pch-dir") o->pch_dir = v;
    else if (a == "--memory-mb") o->memory_mb = std::atol(v.c_str());
    else if (a == "--cpu-seconds") o->cpu_seconds = std::atol(v.c_str());
    else if (a == "--max-file-mb") o->max_file_mb = std::atol(v.c_str());
    else if (a == "--scratch-mb") o->scratch_mb = std::atol(v.c_str());
    else return false;
  }
  return !o->compiler.empty() && o->source_path.rfind("/src/", 0) == 0 && o->output_path.rfind("/out/", 0) == 0 &&
         !o->args.empty();
}

void write_text(const std::string& path, const std::string& text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0 || ::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size()))
    die(cw::kJailFault, error_text("cannot write " + path));
  ::close(fd);
}

std::string read_descriptor(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0 || st.st_size > (64 << 20)) die(cw::kJailFault, "bad input descriptor");
  std::string text(static_cast<size_t>(st.st_size), '\0');
  if (::pread(fd, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size()))
    die(cw::kJailFault, error_text("cannot read an input descriptor"));
  return text;
}

// The compiler's file system: the toolchain read-only (/usr without the site's /usr/local, which
// may hold anything; the top-level /bin, /lib* of the host; the loader's cache), /dev/null only (an
// endless device would be an #include that never ends), the precompiled header adrs built at
// /pch, and empty dirs on the size-limited tmpfs root. Nothing else of the host.
JailSpec compile_jail(const Options& o) {
  JailSpec spec;
  spec.binds.push_back({"/usr", "", false, false, false});
  for (const char* top : {"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc/ld.so.cache"})
    spec.binds.push_back({top, "", false, false, true});
  spec.binds.push_back({"/dev/null", "", false, true, false});
  if (!o.pch_dir.empty()) spec.binds.push_back({o.pch_dir, "/pch", false, false, false});
  spec.hidden_dirs = {"/usr/local"};
  const std::string source_dir = o.source_path.substr(0, o.source_path.rfind('/'));
  spec.writable_dirs = {"/tmp", "/out", "/status", "/src", "/adrs", "/adrs/bin"};
  if (source_dir != "/src") spec.writable_dirs.push_back(source_dir);
  spec.tmpfs_mb = o.scratch_mb;
  spec.tmpfs_inodes = 16384;
  spec.hostname = "adrs-compile";
  spec.allow_fork = true;         // the compiler driver runs cc1plus, as, collect2, ld
  spec.keep_capabilities = true;  // to fill and seal /src and /adrs; the compiler drops them
  // As root the init stays root (it opens the precompiled header under a cache that uid 65534
  // may not traverse) and the compiler becomes 65534 (become_unprivileged).
  spec.drop_to_nobody = false;
  spec.user_namespace = false;
  // No cgroup: joining one costs about 35 ms of wall time per compile here (a kernel grace
  // period), and it would add little: the compiler runs no candidate code, its pipeline is a fixed
  // few processes, and each has its own address-space limit (become_unprivileged).
  spec.memory_mb = 0;
  spec.max_tasks = 0;
  return spec;
}

// Fills the jail once entered, then makes /src and /adrs read-only for good.
void fill_jail(const Options& o, const std::string& source, const std::string& header) {
  write_text(o.source_path, source);
  write_text(o.source_path.substr(0, o.source_path.rfind('/')) + "/masker_api.h", header);
  // The compiler driver runs every subprocess through /adrs/wrap (-wrapper): a subprocess killed
  // by a signal is recorded where source text cannot write (g++ reports it only in its output,
  // which the source can imitate with a newline in a static_assert message).
  write_text("/adrs/wrap", kWrapper);
  // collect2 runs ld itself, not through -wrapper: -B/adrs/bin/ makes it find this ld first.
  write_text("/adrs/bin/ld", "#!/bin/sh\nexec /adrs/wrap /usr/bin/ld \"$@\"\n");
  for (const char* path : {"/adrs", "/adrs/bin", "/src", "/adrs/wrap", "/adrs/bin/ld"}) ::chmod(path, 0555);
  // The compiler may run as another uid than this init (65534 when we are root).
  for (const auto& [path, mode] : {std::pair<const char*, mode_t>{"/tmp", 01777}, {"/out", 0777}, {"/status", 0777}})
    if (::chmod(path, mode) != 0) die(cw::kJailFault, error_text(std::string("chmod ") + path));
  for (const char* path : {"/src", "/adrs"})
    if (Status s = seal_read_only(path); !s.ok()) die(cw::kJailFault, s.message());
}

// In the compiler's process, just before exec: no way back to privilege. Returns false (errno
// set) when a step fails: the compiler must not run then.
bool become_unprivileged(const Options& o, bool host_root) {
  auto limit = [](int resource, rlim_t value) {
    const rlimit l{value, value};
    ::setrlimit(resource, &l);
  };
  limit(RLIMIT_AS, static_cast<rlim_t>(o.memory_mb) << 20);
  limit(RLIMIT_CPU, static_cast<rlim_t>(o.cpu_seconds));
  limit(RLIMIT_FSIZE, static_cast<rlim_t>(o.max_file_mb) << 20);
  limit(RLIMIT_CORE, 0);
  if (host_root) {
    // Root of the host (no user namespace): become nobody, which drops every capability.
    if (::setgroups(0, nullptr) != 0 || ::setresgid(kNobody, kNobody, kNobody) != 0 ||
        ::setresuid(kNobody, kNobody, kNobody) != 0)
      return false;
  }
  // In a user namespace we stay the mapped uid; either way no capability survives exec.
  ::prctl(PR_SET_SECUREBITS, SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP_LOCKED |
                                 SECBIT_KEEP_CAPS_LOCKED);
  for (int cap = 0; cap <= CAP_LAST_CAP; ++cap) ::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
  __user_cap_header_struct head{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (::syscall(SYS_capset, &head, data) != 0 || ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return false;
  ::prctl(PR_SET_DUMPABLE, 0);
  return ::chdir("/tmp") == 0;
}

// Copies the compiler's output into the parent's memfd, refusing anything but a regular file.
int copy_output(const Options& o) {
  const int fd = ::open(o.output_path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  struct stat st {};
  if (fd < 0 || ::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
    die(cw::kJailFault, "the compiler succeeded but left no regular output file");
  if (st.st_size > (static_cast<off_t>(o.max_file_mb) << 20)) die(cw::kOutputTooLarge, "the output is too large");
  char buffer[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) die(cw::kJailFault, error_text("read the output"));
    if (n == 0) break;
    if (::write(cw::kObjectFd, buffer, static_cast<size_t>(n)) != n) die(cw::kJailFault, error_text("copy the output"));
  }
  return cw::kCompiled;
}

// What a compiler process ending on `signal` means: the CPU or file-size limit (the source's
// doing), a crash of the compiler (the source's doing: deep recursion overflows its stack), or a
// kill from outside (the OOM killer, an operator): a fault.
int code_for_signal(int signal) {
  switch (signal) {
    case SIGXCPU: return cw::kCpuLimit;
    case SIGXFSZ: return cw::kOutputTooLarge;
    case SIGSEGV: case SIGBUS: case SIGILL: case SIGFPE: case SIGABRT: case SIGTRAP: case SIGSYS:
      return cw::kCompilerCrashed;
    default: return cw::kCompilerKilled;
  }
}

// The first signal the wrapper recorded, 0 when none.
int recorded_signal() {
  const int fd = ::open("/status/signal", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return 0;
  char text[16] = {};
  const ssize_t n = ::read(fd, text, sizeof text - 1);
  ::close(fd);
  return n > 0 ? std::atoi(text) : 0;
}

// Starts the compiler as an unprivileged child; returns its pid. A child that cannot drop its
// privileges or exec reports the errno through a close-on-exec pipe, and the jail fails.
pid_t start_compiler(const Options& o, bool host_root) {
  int exec_error[2];
  if (::pipe2(exec_error, O_CLOEXEC) != 0) die(cw::kJailFault, error_text("pipe"));
  const pid_t compiler = ::fork();
  if (compiler < 0) die(cw::kJailFault, error_text("fork"));
  if (compiler == 0) {
    ::close(exec_error[0]);
    if (become_unprivileged(o, host_root)) {
      std::vector<char*> argv;
      argv.push_back(const_cast<char*>(o.compiler.c_str()));
      for (const std::string& a : o.args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      // A fixed environment, nothing of the caller's: collect2 finds `ld` only through PATH.
      char path[] = "PATH=/usr/bin:/bin";
      char* fixed_env[] = {path, nullptr};
      // Only 0-2 reach the compiler; exec_error[1] (close-on-exec) reports a failed exec.
      const unsigned keep = static_cast<unsigned>(exec_error[1]);
      if (keep > 3) ::syscall(SYS_close_range, 3U, keep - 1, 0U);
      ::syscall(SYS_close_range, keep + 1, ~0U, 0U);
      ::execve(argv[0], argv.data(), fixed_env);
    }
    const int error = errno;
    ssize_t ignored = ::write(exec_error[1], &error, sizeof error);
    (void)ignored;
    ::_exit(127);
  }
  ::close(exec_error[1]);
  int error = 0;
  if (::read(exec_error[0], &error, sizeof error) == static_cast<ssize_t>(sizeof error))
    die(cw::kJailFault, "cannot drop privileges or run " + o.compiler + " in the jail: " + std::strerror(error));
  ::close(exec_error[0]);
  return compiler;
}

// As PID 1 of the jail: waits for the compiler, reaps everything, and says in its exit code what
// happened.
[[noreturn]] void finish(const Options& o, pid_t compiler) {
  int status = 0;
  for (;;) {  // as PID 1 we also reap whatever the compiler left behind
    const pid_t done = ::waitpid(-1, &status, 0);
    if (done == compiler) break;
    if (done < 0 && errno != EINTR) die(cw::kJailFault, error_text("waitpid"));
  }
  ::kill(-1, SIGKILL);  // nothing the compiler started outlives it
  if (const int signal = recorded_signal(); signal > 0) {
    const int code = code_for_signal(signal);
    die(code, std::string("a compiler process ended on signal ") + std::to_string(signal) +
                  (code == cw::kCompilerKilled ? " (killed from outside: out of memory?)" : ""));
  }
  if (WIFEXITED(status)) {
    switch (WEXITSTATUS(status)) {
      case 0: ::_exit(copy_output(o));
      case 1: ::_exit(cw::kRejected);
      default: ::_exit(cw::kCompilerCrashed);
    }
  }
  const int signal = WTERMSIG(status);
  die(code_for_signal(signal), "the compiler driver ended on signal " + std::to_string(signal));
}

}  // namespace

int run_compile_worker(int argc, char** argv) {
  Options o;
  if (!parse(argc, argv, &o)) die(cw::kUsage, "bad arguments (see evaluator/compile_worker.h)");
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != o.parent) die(cw::kUsage, "the parent is gone");
  const std::string source = read_descriptor(cw::kSourceFd);
  const std::string header = read_descriptor(cw::kHeaderFd);
  ::close(cw::kSourceFd);
  ::close(cw::kHeaderFd);
  JailReport report;
  // Returns in the jail only; keepers outside mirror our exit code or signal.
  if (Status s = enter_jail(compile_jail(o), &report); !s.ok()) die(cw::kJailFault, s.message());
  if (!report.private_root || !report.pid_namespace || !report.network_namespace)
    die(cw::kJailFault, "the compiler needs mount, PID and network namespaces: " + report.summary());
  fill_jail(o, source, header);
  finish(o, start_compiler(o, !report.user_namespace && ::geteuid() == 0));
}

}  // namespace adrs

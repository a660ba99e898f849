// adrs-worker compile: runs the compiler inside a jail. Protocol, layout and exit codes:
// evaluator/compile_worker.h. Three processes: this worker (outside, follows adrs), the jail's
// init (PID 1 of a new PID namespace: builds the file system, reaps, interprets the compiler's
// status, copies the output out) and the compiler itself (unprivileged, fixed environment).
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "evaluator/compile_worker.h"

namespace adrs {
namespace {

namespace cw = compile_worker;

constexpr uid_t kNobody = 65534;
// The jail's root is built on a tmpfs mounted here in the private mount namespace (the host's /tmp
// is untouched; host paths below it are reached through descriptors opened before the mount).
constexpr char kNewRoot[] = "/tmp";

constexpr char kWrapper[] =
    "#!/bin/sh\n"
    "\"$@\"\n"
    "status=$?\n"
    "if [ $status -gt 128 ] && [ $status -lt 192 ]; then echo \"$((status - 128))\" >> /adrs/status/signal; fi\n"
    "exit $status\n";

struct Options {
  int parent = -1;
  std::string compiler, source_path, output_path, pch_dir;
  long memory_mb = 4096, cpu_seconds = 60, max_file_mb = 64, scratch_mb = 512;
  std::vector<std::string> args;
  bool user_namespace = false;  // set by the worker: we are "root" only inside our own user namespace
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

void make_dir(const std::string& path, mode_t mode) {
  if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST) die(cw::kJailFault, error_text("mkdir " + path));
  ::chmod(path.c_str(), mode);  // not filtered by the umask
}

// Bind-mounts `from` read-only at `to` (which must exist), keeping the flags the kernel locks.
void bind_read_only(const std::string& from, const std::string& to) {
  if (::mount(from.c_str(), to.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0)
    die(cw::kJailFault, error_text("bind " + from));
  struct statvfs vfs {};
  unsigned long flags = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV;
  if (::statvfs(to.c_str(), &vfs) == 0) {
    if (vfs.f_flag & ST_NOEXEC) flags |= MS_NOEXEC;
    if (vfs.f_flag & ST_NOATIME) flags |= MS_NOATIME;
    if (vfs.f_flag & ST_NODIRATIME) flags |= MS_NODIRATIME;
    if (vfs.f_flag & ST_RELATIME) flags |= MS_RELATIME;
  }
  if (::mount(nullptr, to.c_str(), nullptr, flags, nullptr) != 0) die(cw::kJailFault, error_text("read-only " + to));
}

// The toolchain: /usr, and the top-level /bin, /lib* of the host (symlinks into /usr on a merged
// system, read-only binds otherwise), and the dynamic loader's cache. Nothing under /etc but that.
void mount_toolchain(const std::string& root) {
  make_dir(root + "/usr", 0755);
  bind_read_only("/usr", root + "/usr");
  // /usr/local is the site's, not the distribution's: it may hold anything. An empty read-only
  // tmpfs hides it (g++ only looks for optional headers there).
  if (::access((root + "/usr/local").c_str(), F_OK) == 0 &&
      ::mount("tmpfs", (root + "/usr/local").c_str(), "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV, "size=4k") != 0)
    die(cw::kJailFault, error_text("hide /usr/local"));
  for (const char* top : {"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"}) {
    struct stat st {};
    if (::lstat(top, &st) != 0) continue;
    if (S_ISLNK(st.st_mode)) {
      char target[4096];
      const ssize_t n = ::readlink(top, target, sizeof target - 1);
      if (n <= 0 || ::symlink(std::string(target, static_cast<size_t>(n)).c_str(), (root + top).c_str()) != 0)
        die(cw::kJailFault, error_text(std::string("symlink ") + top));
    } else if (S_ISDIR(st.st_mode)) {
      make_dir(root + top, 0755);
      bind_read_only(top, root + top);
    }
  }
  make_dir(root + "/etc", 0755);
  if (::access("/etc/ld.so.cache", R_OK) == 0) {
    write_text(root + "/etc/ld.so.cache", "");
    bind_read_only("/etc/ld.so.cache", root + "/etc/ld.so.cache");
  }
  make_dir(root + "/dev", 0755);
  // /dev/null only: an endless device (/dev/zero, /dev/urandom) would be an #include that never ends.
  for (const char* device : {"/dev/null"}) {
    write_text(root + device, "");
    if (::mount(device, (root + device).c_str(), nullptr, MS_BIND, nullptr) != 0)
      die(cw::kJailFault, error_text(std::string("bind ") + device));
  }
}

// Runs as the jail's init. Builds the file system and pivots into it.
void build_jail(const Options& o, const std::string& source, const std::string& header) {
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) die(cw::kJailFault, error_text("private /"));
  const int pch = o.pch_dir.empty() ? -1 : ::open(o.pch_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (!o.pch_dir.empty() && pch < 0) die(cw::kJailFault, error_text("open " + o.pch_dir));
  const std::string size = "size=" + std::to_string(o.scratch_mb) + "m,mode=0755";
  if (::mount("tmpfs", kNewRoot, "tmpfs", MS_NOSUID | MS_NODEV, size.c_str()) != 0)
    die(cw::kJailFault, error_text("tmpfs root"));
  const std::string root = kNewRoot;
  mount_toolchain(root);
  make_dir(root + "/tmp", 01777);
  make_dir(root + "/out", 0777);
  make_dir(root + "/src", 0755);
  const std::string source_dir = o.source_path.substr(0, o.source_path.rfind('/'));
  make_dir(root + source_dir, 0755);
  write_text(root + o.source_path, source);
  write_text(root + source_dir + "/masker_api.h", header);
  if (pch >= 0) {
    make_dir(root + "/pch", 0755);
    bind_read_only("/proc/self/fd/" + std::to_string(pch), root + "/pch");
    ::close(pch);
  }
  // The compiler driver runs every subprocess through /adrs/wrap (-wrapper): a subprocess killed
  // by a signal is recorded where source text cannot write (g++ reports it only in its output,
  // which the source can imitate with a newline in a static_assert message).
  make_dir(root + "/adrs", 0755);
  write_text(root + "/adrs/wrap", kWrapper);
  ::chmod((root + "/adrs/wrap").c_str(), 0555);
  make_dir(root + "/adrs/status", 0777);
  // collect2 runs ld itself, not through -wrapper: -B/adrs/bin/ makes it find this ld first.
  make_dir(root + "/adrs/bin", 0755);
  write_text(root + "/adrs/bin/ld", "#!/bin/sh\nexec /adrs/wrap /usr/bin/ld \"$@\"\n");
  ::chmod((root + "/adrs/bin/ld").c_str(), 0555);
  make_dir(root + "/.old", 0700);
  if (::syscall(SYS_pivot_root, root.c_str(), (root + "/.old").c_str()) != 0) die(cw::kJailFault, error_text("pivot_root"));
  if (::chdir("/") != 0 || ::umount2("/.old", MNT_DETACH) != 0) die(cw::kJailFault, error_text("detach the host root"));
  ::rmdir("/.old");
}

// In the compiler's process, just before exec: no way back to privilege. Returns false (errno
// set) when a step fails: the compiler must not run then.
bool become_unprivileged(const Options& o) {
  auto limit = [](int resource, rlim_t value) {
    const rlimit l{value, value};
    ::setrlimit(resource, &l);
  };
  limit(RLIMIT_AS, static_cast<rlim_t>(o.memory_mb) << 20);
  limit(RLIMIT_CPU, static_cast<rlim_t>(o.cpu_seconds));
  limit(RLIMIT_FSIZE, static_cast<rlim_t>(o.max_file_mb) << 20);
  limit(RLIMIT_CORE, 0);
  if (!o.user_namespace) {
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
  const int fd = ::open("/adrs/status/signal", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return 0;
  char text[16] = {};
  const ssize_t n = ::read(fd, text, sizeof text - 1);
  ::close(fd);
  return n > 0 ? std::atoi(text) : 0;
}

// PID 1 of the jail: runs the compiler, reaps everything, and says in its exit code what happened.
[[noreturn]] void jail_init(const Options& o, int alive_fd) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  pollfd alive{alive_fd, POLLIN, 0};
  if (::poll(&alive, 1, 0) != 0) ::_exit(cw::kJailFault);  // the worker died before PDEATHSIG was set
  ::prctl(PR_SET_DUMPABLE, 0);
  const std::string source = read_descriptor(cw::kSourceFd);
  const std::string header = read_descriptor(cw::kHeaderFd);
  build_jail(o, source, header);
  int exec_error[2];
  if (::pipe2(exec_error, O_CLOEXEC) != 0) die(cw::kJailFault, error_text("pipe"));
  const pid_t compiler = ::fork();
  if (compiler < 0) die(cw::kJailFault, error_text("fork"));
  if (compiler == 0) {
    ::close(exec_error[0]);
    if (!become_unprivileged(o)) {
      const int error = errno;
      ssize_t ignored = ::write(exec_error[1], &error, sizeof error);
      (void)ignored;
      ::_exit(127);
    }
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
    const int error = errno;
    ssize_t ignored = ::write(exec_error[1], &error, sizeof error);
    (void)ignored;
    ::_exit(127);
  }
  ::close(exec_error[1]);
  int error = 0;
  if (::read(exec_error[0], &error, sizeof error) == static_cast<ssize_t>(sizeof error))
    die(cw::kJailFault, "cannot drop privileges or run " + o.compiler + " in the jail: " + std::strerror(error));
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
  int flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS;
  const uid_t uid = ::getuid();
  const gid_t gid = ::getgid();
  o.user_namespace = uid != 0;
  if (o.user_namespace) flags |= CLONE_NEWUSER;  // without root, a user namespace grants the mount rights
  if (::unshare(flags) != 0) die(cw::kJailFault, error_text("unshare (namespaces are needed to jail the compiler)"));
  if (o.user_namespace) {
    auto write_map = [](const char* path, const std::string& text) {
      const int fd = ::open(path, O_WRONLY | O_CLOEXEC);
      if (fd < 0 || ::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size()))
        die(cw::kJailFault, error_text(std::string("write ") + path));
      ::close(fd);
    };
    write_map("/proc/self/setgroups", "deny");
    write_map("/proc/self/uid_map", "0 " + std::to_string(uid) + " 1");
    write_map("/proc/self/gid_map", "0 " + std::to_string(gid) + " 1");
  }
  int alive[2];
  if (::pipe2(alive, O_CLOEXEC) != 0) die(cw::kJailFault, error_text("pipe"));
  const pid_t init = ::fork();
  if (init < 0) die(cw::kJailFault, error_text("fork"));
  if (init == 0) {
    ::close(alive[1]);
    jail_init(o, alive[0]);
  }
  ::close(alive[0]);
  ::close(cw::kSourceFd);
  ::close(cw::kHeaderFd);
  ::close(cw::kObjectFd);
  int status = 0;
  while (::waitpid(init, &status, 0) < 0)
    if (errno != EINTR) die(cw::kJailFault, error_text("waitpid"));
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  die(cw::kCompilerKilled, "the jail was killed by signal " + std::to_string(WTERMSIG(status)));
}

}  // namespace adrs

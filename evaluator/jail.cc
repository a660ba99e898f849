#include "evaluator/jail.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "evaluator/jail_internal.h"

namespace adrs {

namespace {

constexpr uid_t kNobody = 65534;

Status errno_status(const std::string& what) { return Status::Error(what + ": " + std::strerror(errno)); }

// Ends this process the way the jailed one ended: the same exit code, or the same signal.
[[noreturn]] void mirror_exit(int wstatus) {
  if (WIFEXITED(wstatus)) ::_exit(WEXITSTATUS(wstatus));
  const int signal = WIFSIGNALED(wstatus) ? WTERMSIG(wstatus) : SIGKILL;
  const rlimit no_core{0, 0};
  ::setrlimit(RLIMIT_CORE, &no_core);
  struct sigaction action {};
  action.sa_handler = SIG_DFL;
  ::sigaction(signal, &action, nullptr);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, signal);
  ::sigprocmask(SIG_UNBLOCK, &set, nullptr);
  ::kill(::getpid(), signal);
  ::_exit(128 + signal);
}

// A keeper holds no descriptor (pipes must see EOF when the jailed process ends), waits for the
// child, removes the cgroups it made and mirrors the child's end.
[[noreturn]] void keep(pid_t child, jail_internal::Cgroups* cgroups) {
  ::syscall(SYS_close_range, 0U, ~0U, 0U);
  int wstatus = 0;
  while (::waitpid(child, &wstatus, 0) < 0 && errno == EINTR) {
  }
  if (cgroups) cgroups->remove();
  mirror_exit(wstatus);
}

// Forks; the parent becomes a keeper and never returns. The child dies with it.
Status fork_keeper(jail_internal::Cgroups* cgroups) {
  const pid_t keeper = ::getpid();
  const pid_t child = ::fork();
  if (child < 0) return errno_status("jail: fork");
  if (child > 0) keep(child, cgroups);
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  // Outside a new PID namespace, a parent that died before the prctl is visible here.
  const pid_t parent = ::getppid();
  if (parent != keeper && parent != 0) ::_exit(128 + SIGKILL);
  return Status::Ok();
}

Status drop_to_nobody(JailReport* report) {
  if (::setgroups(0, nullptr) != 0 || ::setresgid(kNobody, kNobody, kNobody) != 0 ||
      ::setresuid(kNobody, kNobody, kNobody) != 0)
    return errno_status("jail: cannot drop to uid 65534");
  // A changed uid makes the process non-dumpable, which leaves /proc/self/uid_map owned by root;
  // the new user namespace needs it writable. The caller makes itself non-dumpable again.
  ::prctl(PR_SET_DUMPABLE, 1);
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // cleared by the uid change
  report->dropped_uid = true;
  report->active.push_back("uid/gid 65534");
  return Status::Ok();
}

Status enter_user_namespace(JailReport* report) {
  const uid_t uid = ::geteuid();
  const gid_t gid = ::getegid();
  if (::unshare(CLONE_NEWUSER) != 0) {
    report->inactive.push_back(std::string("user namespace (") + std::strerror(errno) + ")");
    return Status::Ok();
  }
  using jail_internal::write_text;
  if (!write_text("/proc/self/setgroups", "deny") || !write_text("/proc/self/uid_map", "0 " + std::to_string(uid) + " 1") ||
      !write_text("/proc/self/gid_map", "0 " + std::to_string(gid) + " 1"))
    return errno_status("jail: cannot map the user namespace's root to uid " + std::to_string(uid));
  // Other processes of uid 65534 on the host must not be able to ptrace or read us.
  ::prctl(PR_SET_DUMPABLE, 0);
  report->user_namespace = true;
  report->active.push_back("user namespace");
  return Status::Ok();
}

void enter_namespace(int flag, const char* name, bool* active, JailReport* report) {
  if (::unshare(flag) == 0) {
    report->active.push_back(std::string(name) + " namespace");
    if (active) *active = true;
  } else {
    report->inactive.push_back(std::string(name) + " namespace (" + std::strerror(errno) + ")");
  }
}

// fork/vfork/exec fail with EPERM. A later, stricter filter (the worker's) still takes precedence.
Status forbid_new_processes() {
  scmp_filter_ctx filter = seccomp_init(SCMP_ACT_ALLOW);
  if (!filter) return Status::Error("jail: seccomp is unavailable");
  int rc = 0;
  for (int call : {SCMP_SYS(fork), SCMP_SYS(vfork), SCMP_SYS(execve), SCMP_SYS(execveat)})
    rc |= seccomp_rule_add(filter, SCMP_ACT_ERRNO(EPERM), call, 0);
  rc |= seccomp_rule_add(filter, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1, SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0));
  // clone3 keeps its flags in memory a filter cannot read: libc falls back to clone.
  rc |= seccomp_rule_add(filter, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
  rc |= seccomp_load(filter);
  seccomp_release(filter);
  return rc == 0 ? Status::Ok() : Status::Error("jail: cannot load the no-fork seccomp filter");
}

Status drop_capabilities() {
  for (int cap = 0; cap <= 63; ++cap) ::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
  ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (::syscall(SYS_capset, &header, data) != 0) return errno_status("jail: cannot drop capabilities");
  return Status::Ok();
}

}  // namespace

std::string JailReport::summary() const {
  std::string text;
  for (const std::string& layer : active) text += (text.empty() ? "" : ", ") + layer;
  if (!inactive.empty()) {
    text += text.empty() ? "not active: " : "; not active: ";
    for (size_t i = 0; i < inactive.size(); ++i) text += (i ? ", " : "") + inactive[i];
  }
  return text;
}

namespace {

// Step 1: the cgroup, made while we still may (as root); a keeper outside removes it afterwards.
// Where cgroups cannot be made the report says why and the jail goes on without one.
Status join_cgroup(const JailSpec& spec, JailReport* report) {
  jail_internal::Cgroups cgroups;
  if (Status s = cgroups.create(::getpid(), spec.memory_mb, spec.max_tasks); !s.ok()) {
    report->inactive.push_back("cgroup (" + s.message() + ")");
    return Status::Ok();
  }
  if (Status f = fork_keeper(&cgroups); !f.ok()) {
    cgroups.remove();
    return f;
  }
  if (!cgroups.join()) return Status::Error("jail: cannot join the cgroup " + cgroups.dirs.front());
  report->cgroup = true;
  std::string what = cgroups.description + " (";
  if (spec.memory_mb > 0) what += "memory " + std::to_string(spec.memory_mb) + " MB incl. tmpfs/shmem";
  if (spec.max_tasks > 0) what += std::string(spec.memory_mb > 0 ? ", " : "") + std::to_string(spec.max_tasks) + " tasks";
  report->active.push_back(what + ")");
  return Status::Ok();
}

// Steps 3-4: the namespaces, each on its own so that the report names what the kernel refused.
// *uts says whether the hostname may be set.
Status enter_namespaces(const JailSpec& spec, bool root, bool* uts, JailReport* report) {
  if (root && !spec.drop_to_nobody && !spec.user_namespace) {
    report->inactive.push_back("user namespace (stays host root by request; drops its uid itself)");
  } else if (Status s = enter_user_namespace(report); !s.ok()) {
    return s;
  }
  enter_namespace(CLONE_NEWNS, "mount", &report->mount_namespace, report);
  enter_namespace(CLONE_NEWIPC, "ipc", nullptr, report);
  enter_namespace(CLONE_NEWUTS, "uts", uts, report);
  enter_namespace(CLONE_NEWNET, "network", &report->network_namespace, report);
  enter_namespace(CLONE_NEWCGROUP, "cgroup", nullptr, report);
  enter_namespace(CLONE_NEWPID, "pid", &report->pid_namespace, report);
  return Status::Ok();
}

// Step 7: hostname, no new privileges, no new processes, no capabilities.
Status seal(const JailSpec& spec, bool uts, JailReport* report) {
  if (uts && ::sethostname(spec.hostname.data(), spec.hostname.size()) != 0) return errno_status("jail: sethostname");
  ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  ::prctl(PR_SET_DUMPABLE, 0);
  if (!spec.allow_fork) {
    if (Status s = forbid_new_processes(); !s.ok()) return s;
    report->active.push_back("no new processes");
  }
  if (!spec.keep_capabilities) {
    if (Status s = drop_capabilities(); !s.ok()) return s;
    report->active.push_back("no capabilities");
  }
  return Status::Ok();
}

}  // namespace

Status enter_jail(const JailSpec& spec, JailReport* report) {
  *report = JailReport{};
  const bool root = ::geteuid() == 0;
  // 1. cgroup.
  if (spec.memory_mb > 0 || spec.max_tasks > 0)
    if (Status s = join_cgroup(spec, report); !s.ok()) return s;
  // 2. uid, before any namespace: the host's checks then see "nobody".
  if (root && spec.drop_to_nobody) {
    if (Status s = drop_to_nobody(report); !s.ok()) return s;
  } else {
    report->inactive.push_back(root ? "uid drop (asked to stay root)"
                                    : "uid drop (not root: stays uid " + std::to_string(::geteuid()) + ")");
  }
  // 3.-4. namespaces.
  bool uts = false;
  if (Status s = enter_namespaces(spec, root, &uts, report); !s.ok()) return s;
  // 5. the new PID namespace takes effect for children only.
  if (report->pid_namespace)
    if (Status s = fork_keeper(nullptr); !s.ok()) return s;
  // 6. the private root.
  if (report->mount_namespace) {
    if (Status s = jail_internal::build_root(spec, report); !s.ok()) return s;
  } else {
    report->inactive.push_back("private root (no mount namespace)");
  }
  // 7. hostname, process creation, capabilities.
  return seal(spec, uts, report);
}

}  // namespace adrs

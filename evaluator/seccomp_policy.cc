#include "evaluator/seccomp_policy.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/prctl.h>

#include <string>

namespace adrs {

namespace {

// What a masker may call without conditions: memory, threads, time, its own descriptors and
// files (the mount view and Landlock decide which), signals handled inside itself.
constexpr const char* kAllowed[] = {
    "read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev", "preadv2", "pwritev2",
    "lseek", "close", "close_range", "dup", "dup2", "dup3", "pipe", "pipe2", "poll", "ppoll", "select",
    "pselect6", "eventfd2", "fstat", "newfstatat", "stat", "lstat", "statx", "fstatfs", "statfs", "getdents64",
    "open", "openat", "getcwd", "chdir", "fchdir", "access", "faccessat", "faccessat2", "readlink",
    "readlinkat", "mkdir", "mkdirat", "rmdir", "unlink", "unlinkat", "rename", "renameat", "renameat2",
    "ftruncate", "truncate", "fallocate", "fsync", "fdatasync", "fadvise64", "sendfile", "copy_file_range",
    "umask", "mmap", "munmap", "mprotect", "mremap", "madvise", "brk", "mincore", "msync", "futex",
    "futex_waitv", "set_robust_list", "set_tid_address", "rseq", "membarrier", "arch_prctl", "exit",
    "exit_group", "restart_syscall", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack",
    "rt_sigpending", "rt_sigtimedwait", "rt_sigsuspend", "clock_gettime", "clock_getres", "clock_nanosleep",
    "nanosleep", "gettimeofday", "time", "sched_yield", "sched_getaffinity", "getcpu", "getpid", "gettid",
    "getppid", "getuid", "geteuid", "getgid", "getegid", "getresuid", "getresgid", "getgroups", "getpgrp",
    "getrandom", "uname", "sysinfo", "getrusage", "times",
};

struct Trapped {
  const char* name;
  const char* why;
  int number = -1;  // resolved at load time
};

// Calls trapped outright, so that the message names them.
Trapped g_trapped[] = {
    {"fork", "process creation is not allowed"},
    {"vfork", "process creation is not allowed"},
    {"clone", "process creation is not allowed (threads are)"},
    {"execve", "running programs is not allowed"},
    {"execveat", "running programs is not allowed"},
    {"socket", "network access is not allowed"},
    {"socketpair", "sockets are not allowed"},
    {"ptrace", "tracing processes is not allowed"},
    {"process_vm_readv", "reading other processes is not allowed"},
    {"process_vm_writev", "writing other processes is not allowed"},
    {"kill", "signalling other processes is not allowed"},
    {"tkill", "signalling threads by id is not allowed (use pthread_kill)"},
    {"tgkill", "signalling other processes is not allowed"},
    {"rt_sigqueueinfo", "signalling other processes is not allowed"},
    {"rt_tgsigqueueinfo", "signalling other processes is not allowed"},
    {"pidfd_open", "handles on other processes are not allowed"},
    {"pidfd_send_signal", "signalling other processes is not allowed"},
    {"pidfd_getfd", "taking descriptors of other processes is not allowed"},
    {"prlimit64", "changing the limits of another process is not allowed"},
    {"prctl", "this prctl option is not allowed"},
    {"fcntl", "F_SETOWN, F_SETSIG, F_SETLEASE and F_NOTIFY (signals to another process) are not allowed"},
    {"setsid", "leaving the worker's process group is not allowed"},
    {"setpgid", "leaving the worker's process group is not allowed"},
    {"unshare", "namespaces are not allowed"},
    {"setns", "namespaces are not allowed"},
    {"mount", "mounting is not allowed"},
    {"umount2", "mounting is not allowed"},
    {"pivot_root", "changing the root is not allowed"},
    {"chroot", "chroot is not allowed"},
    {"bpf", "bpf is not allowed"},
    {"perf_event_open", "perf events are not allowed"},
    {"io_uring_setup", "io_uring is not allowed"},
    {"io_uring_enter", "io_uring is not allowed"},
    {"io_uring_register", "io_uring is not allowed"},
    {"keyctl", "the kernel keyring is not allowed"},
    {"add_key", "the kernel keyring is not allowed"},
    {"request_key", "the kernel keyring is not allowed"},
    {"memfd_create", "memory files are not allowed"},
    {"memfd_secret", "memory files are not allowed"},
    {"shmget", "System V IPC is not allowed"},
    {"shmat", "System V IPC is not allowed"},
    {"shmctl", "System V IPC is not allowed"},
    {"semget", "System V IPC is not allowed"},
    {"semop", "System V IPC is not allowed"},
    {"semctl", "System V IPC is not allowed"},
    {"msgget", "System V IPC is not allowed"},
    {"msgsnd", "System V IPC is not allowed"},
    {"msgrcv", "System V IPC is not allowed"},
    {"msgctl", "System V IPC is not allowed"},
    {"mq_open", "POSIX message queues are not allowed"},
    {"mknod", "device and FIFO nodes are not allowed"},
    {"mknodat", "device and FIFO nodes are not allowed"},
    {"chmod", "changing file modes is not allowed"},
    {"fchmod", "changing file modes is not allowed"},
    {"fchmodat", "changing file modes is not allowed"},
    {"fchmodat2", "changing file modes is not allowed"},
    {"chown", "changing file owners is not allowed"},
    {"fchown", "changing file owners is not allowed"},
    {"lchown", "changing file owners is not allowed"},
    {"fchownat", "changing file owners is not allowed"},
    {"utime", "changing file times is not allowed"},
    {"utimes", "changing file times is not allowed"},
    {"utimensat", "changing file times is not allowed"},
    {"futimesat", "changing file times is not allowed"},
    {"setxattr", "extended attributes are not allowed"},
    {"lsetxattr", "extended attributes are not allowed"},
    {"fsetxattr", "extended attributes are not allowed"},
    {"getxattr", "extended attributes are not allowed"},
    {"lgetxattr", "extended attributes are not allowed"},
    {"fgetxattr", "extended attributes are not allowed"},
    {"removexattr", "extended attributes are not allowed"},
    {"lremovexattr", "extended attributes are not allowed"},
    {"fremovexattr", "extended attributes are not allowed"},
    {"link", "hard links are not allowed"},
    {"linkat", "hard links are not allowed"},
    {"symlink", "symbolic links are not allowed"},
    {"symlinkat", "symbolic links are not allowed"},
    {"userfaultfd", "userfaultfd is not allowed"},
    {"personality", "changing the personality is not allowed"},
    {"seccomp", "changing the seccomp filter is not allowed"},
    {"open_by_handle_at", "opening files by handle is not allowed"},
};

int resolve(const char* name) { return seccomp_syscall_resolve_name(name); }

}  // namespace

bool describe_trapped_call(int number, const char** name, const char** why) {
  for (const Trapped& t : g_trapped)
    if (t.number >= 0 && t.number == number) {
      *name = t.name;
      *why = t.why;
      return true;
    }
  return false;
}

Status load_worker_seccomp_policy(pid_t self) {
  scmp_filter_ctx filter = seccomp_init(SCMP_ACT_KILL_PROCESS);
  if (!filter) return Status::Error("seccomp is unavailable");
  int rc = seccomp_attr_set(filter, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
  std::string failed;
  auto check = [&](int result, const char* what) {
    if (result != 0 && failed.empty()) failed = what;
    rc |= result;
  };
  for (const char* name : kAllowed) {
    const int number = resolve(name);
    if (number >= 0) check(seccomp_rule_add(filter, SCMP_ACT_ALLOW, number, 0), name);
  }
  const scmp_datum_t me = static_cast<scmp_datum_t>(self);
  // Conditional calls: allowed on the worker itself, trapped (named) otherwise.
  for (const char* name : {"kill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo"}) {
    check(seccomp_rule_add(filter, SCMP_ACT_ALLOW, resolve(name), 1, SCMP_A0(SCMP_CMP_EQ, me)), name);
    check(seccomp_rule_add(filter, SCMP_ACT_TRAP, resolve(name), 1, SCMP_A0(SCMP_CMP_NE, me)), name);
  }
  // A thread, and no namespace flag with it (the kernel refuses most such mixes; this does not rely on that).
  constexpr scmp_datum_t kNamespaces = CLONE_NEWNS | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC |
                                       CLONE_NEWUTS | CLONE_NEWCGROUP;
  check(seccomp_rule_add(filter, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                         SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD | kNamespaces, CLONE_THREAD)), "clone");
  check(seccomp_rule_add(filter, SCMP_ACT_TRAP, SCMP_SYS(clone), 1, SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0)), "clone");
  check(seccomp_rule_add(filter, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0), "clone3");
  for (scmp_datum_t pid : {scmp_datum_t{0}, me}) {
    check(seccomp_rule_add(filter, SCMP_ACT_ALLOW, SCMP_SYS(prlimit64), 1, SCMP_A0(SCMP_CMP_EQ, pid)), "prlimit64");
    check(seccomp_rule_add(filter, SCMP_ACT_ALLOW, SCMP_SYS(get_robust_list), 1, SCMP_A0(SCMP_CMP_EQ, pid)), "get_robust_list");
  }
  for (int option : {PR_SET_NAME, PR_GET_NAME, PR_GET_DUMPABLE, PR_CAPBSET_READ, PR_GET_NO_NEW_PRIVS, PR_GET_SECCOMP,
                     0x53564d41 /* PR_SET_VMA: glibc names its stacks */})
    check(seccomp_rule_add(filter, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1, SCMP_A0(SCMP_CMP_EQ, static_cast<scmp_datum_t>(option))), "prctl");
  for (int option : {PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_PTRACER, PR_SET_MM, PR_SET_CHILD_SUBREAPER, PR_SET_SECCOMP,
                     PR_SET_NO_NEW_PRIVS, PR_CAPBSET_DROP, PR_SET_SECUREBITS, PR_CAP_AMBIENT})
    check(seccomp_rule_add(filter, SCMP_ACT_TRAP, SCMP_SYS(prctl), 1, SCMP_A0(SCMP_CMP_EQ, static_cast<scmp_datum_t>(option))), "prctl");
  for (int command : {F_DUPFD, F_DUPFD_CLOEXEC, F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_GETLK, F_SETLK, F_SETLKW,
                      F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW, F_GET_SEALS, F_GETPIPE_SZ})
    check(seccomp_rule_add(filter, SCMP_ACT_ALLOW, SCMP_SYS(fcntl), 1, SCMP_A1(SCMP_CMP_EQ, static_cast<scmp_datum_t>(command))), "fcntl");
  for (int command : {F_SETOWN, F_SETOWN_EX, F_SETSIG, F_SETLEASE, F_NOTIFY})
    check(seccomp_rule_add(filter, SCMP_ACT_TRAP, SCMP_SYS(fcntl), 1, SCMP_A1(SCMP_CMP_EQ, static_cast<scmp_datum_t>(command))), "fcntl");
  // isatty() and friends: "not a terminal"; no ioctl reaches a driver.
  check(seccomp_rule_add(filter, SCMP_ACT_ERRNO(ENOTTY), SCMP_SYS(ioctl), 0), "ioctl");
  // The named traps (those with conditions above are already in).
  for (Trapped& t : g_trapped) {
    t.number = resolve(t.name);
    if (t.number < 0) continue;
    const std::string name = t.name;
    if (name == "kill" || name == "tgkill" || name == "rt_sigqueueinfo" || name == "rt_tgsigqueueinfo" ||
        name == "clone" || name == "prlimit64" || name == "prctl" || name == "fcntl")
      continue;
    check(seccomp_rule_add(filter, SCMP_ACT_TRAP, t.number, 0), t.name);
  }
  if (rc == 0) check(seccomp_load(filter), "loading the filter");
  seccomp_release(filter);
  if (rc != 0) return Status::Error("the seccomp policy could not be built (" + failed + ")");
  return Status::Ok();
}

}  // namespace adrs

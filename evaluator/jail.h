// Jail: a process confines itself (trusted code, before it execs or dlopens untrusted code).
//
// enter_jail() applies these layers in order; each one the kernel refuses is named in the report
// (JailReport::inactive), never skipped silently:
//   1. cgroup    (only as root, or where cgroup v2 is delegated): memory limit that also counts
//                tmpfs/shmem/memfd pages, and a task limit. v2 when its controllers are usable,
//                else v1 (memory + pids hierarchies). The process forks a keeper that stays
//                outside, waits, removes the cgroup afterwards and mirrors the exit.
//   2. uid       as root: setgroups(0), setresgid/setresuid(65534) FIRST, so that the host's own
//                permission checks refuse what "nobody" may not touch.
//   3. user ns   inside root = our outside uid (one uid, one gid, setgroups denied).
//   4. mount, PID, IPC, UTS, network, cgroup namespaces, each on its own.
//   5. with a PID namespace: another fork; the caller continues as PID 1 of the new namespace
//      and the process outside waits and mirrors its exit code or signal. Both die with their
//      parent (PR_SET_PDEATHSIG). As PID 1 the caller ignores signals it sends itself without a
//      handler (init semantics), and everything else in the namespace dies when it exits.
//   6. root:     a private tmpfs (size=, nr_inodes=) holding only the listed binds (read-only,
//                nosuid, nodev unless a device), hidden dirs (an empty read-only tmpfs over them)
//                and empty writable dirs; pivot_root into it, the old root unmounted; no /proc
//                unless asked; "/" itself left unwritable (0555).
//   7. hostname  of the UTS namespace; then every capability dropped (bounding set too) and
//                no_new_privs, unless keep_capabilities.
//
// enter_jail returns only in the jailed process. All the file descriptors of the caller stay open
// in it (pass data that way: a host path of the caller is unreachable inside). The keepers close
// every descriptor they hold, so pipes see EOF when the jailed process ends.
// Not thread-safe: call it while the process has one thread.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "util/status.h"

namespace adrs {

struct JailBind {
  std::string outside;       // host path (a symlink is recreated as a symlink inside)
  std::string inside;        // "" : the same path
  bool writable = false;     // read-only unless set (a writable bind can change the host!)
  bool device = false;       // a device node (/dev/null): nodev is not added
  bool optional = false;     // skip silently when `outside` does not exist (e.g. /lib32)
};

struct JailSpec {
  std::vector<JailBind> binds;
  std::vector<std::string> writable_dirs;  // created empty inside the private tmpfs root
  std::vector<std::string> hidden_dirs;    // covered by an empty read-only tmpfs where they exist
  long tmpfs_mb = 64;                      // size of the private root (it holds writable_dirs)
  long tmpfs_inodes = 4096;
  bool mount_proc = false;                 // a /proc of the new PID namespace
  std::string hostname = "adrs-jail";
  bool drop_to_nobody = true;              // as root: run as uid/gid 65534 (the report says so)
  bool user_namespace = true;              // false, as root without drop_to_nobody: none, the process
                                           // stays host root (to open root-only binds) and must drop
                                           // its uid itself before it runs anything untrusted
  bool allow_fork = false;                 // false: fork/vfork/execve fail with EPERM (seccomp)
  bool keep_capabilities = false;          // true: stay root of the user ns (e.g. to exec a tool)
  long memory_mb = 0;                      // cgroup memory limit; 0: none
  long max_tasks = 0;                      // cgroup task limit (threads count); 0: none
};

struct JailReport {
  std::vector<std::string> active;    // "pid namespace", "tmpfs root 64 MB", ...
  std::vector<std::string> inactive;  // "cgroup (no writable cgroup v1/v2: ...)", ...
  bool user_namespace = false, mount_namespace = false, pid_namespace = false, network_namespace = false;
  bool dropped_uid = false, cgroup = false, private_root = false;
  // "uid 65534, user ns, ...; not active: ..." for the sandbox summary.
  std::string summary() const;
};

// Confines the calling process as `spec` says. A failure of an essential step once namespaces
// exist (a bind that does not mount, pivot_root) is an error: the caller must not go on.
Status enter_jail(const JailSpec& spec, JailReport* report);

// Makes `dir` (a writable dir of the jail) read-only for good: a jailed process that kept its
// capabilities fills it, seals it, then starts what must only read it (a process without
// CAP_SYS_ADMIN cannot undo a read-only bind).
Status seal_read_only(const std::string& dir);

// Removes the cgroups a jail keeper with host pid `keeper_pid` made, when the keeper was killed
// before it could (the caller that started it calls this after the wait). Harmless otherwise.
void remove_jail_cgroups(pid_t keeper_pid);

// Removes every jail cgroup whose keeper process is gone (left by a kill -9 of the whole tree).
void remove_stale_jail_cgroups();

}  // namespace adrs

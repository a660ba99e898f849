// The masker worker's seccomp policy: an allow list. Anything not on it kills the whole worker
// (SECCOMP_RET_KILL_PROCESS, so no handler and no other thread of the masker runs on). A short
// list of calls a masker is known to try is trapped first (SIGSYS with the call never run), so
// the message can name what it tried. System calls of a foreign ABI (int 0x80, x32) kill too.
//
// Allowed with argument checks: clone only with CLONE_THREAD and no namespace flag (clone3 fails with ENOSYS, which
// makes libc fall back to clone); kill, tgkill, rt_(tg)sigqueueinfo only on the worker itself;
// prlimit64 and get_robust_list only on itself; prctl only for names and read-only queries;
// fcntl without F_SETOWN(_EX), F_SETSIG, F_SETLEASE, F_NOTIFY (a signal sent to another process)
// and without anything unlisted; ioctl fails with ENOTTY. Opening and creating files is allowed
// by seccomp: the jail's mount view and Landlock decide what exists and what is writable.
#pragma once

#include <sys/types.h>

#include "util/status.h"

namespace adrs {

// Loads the policy for the calling process (all of whose threads are started after this);
// `self` is its pid as it sees itself (1 as PID 1 of its namespace). Needs no_new_privs.
Status load_worker_seccomp_policy(pid_t self);

// The name of a trapped call and why it is refused, for the SIGSYS handler (async-signal-safe:
// the table is built by load_worker_seccomp_policy). False for an unknown number.
bool describe_trapped_call(int number, const char** name, const char** why);

}  // namespace adrs

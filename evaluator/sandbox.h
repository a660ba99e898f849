// Confinement of the masker worker, applied by the worker to itself before it loads candidate code.
#pragma once

#include <string>

namespace adrs {

// Applies resource limits: address space, CPU seconds, largest file written, no core files.
void apply_resource_limits(long memory_mb, long cpu_seconds, long max_file_mb);

// Dies with the parent (PR_SET_PDEATHSIG) and gives up if the parent is already gone.
bool follow_parent(int expected_parent);

// The layers inside the jail (evaluator/jail.h), applied last before the masker loads:
// no_new_privs, not dumpable, Landlock (where the kernel has it: only the system library folders,
// the loader cache, /dev/null, /dev/zero, /dev/urandom and `scratch_dir` stay reachable), and the
// seccomp allow list (evaluator/seccomp_policy.h). A trapped call ends the worker with
// worker_exit::kForbiddenSyscall after writing a message naming it to `message_fd`.
// Returns false when the seccomp filter could not be loaded (the worker must not go on);
// `summary` says what was applied. Without a private root (the kernel refused the jail's
// namespaces) `scratch_dir` is "" and `masker_fd` the masker's descriptor, loaded through
// /proc/self/fd: Landlock then allows exactly that file, and the worker stays dumpable so that
// its own /proc entries stay reachable. Otherwise `masker_fd` is -1.
bool enter_sandbox(int message_fd, const std::string& scratch_dir, int masker_fd, std::string* summary);

class Workload;

// Records which row the calling thread is working on, for crash messages, and the workload that
// names rows by layer, step and head.
void set_current_row(long row);
void set_crash_workload(const Workload* workload);

// Installs handlers that write "the masker crashed while selecting row R" to `message_fd` and end
// the worker with 128 + signal (as PID 1 of its namespace, a raised signal would be ignored).
void install_crash_reporters(int message_fd);

// Gives the calling thread an alternate signal stack, so stack overflows are reported too.
void prepare_thread_for_crash_reports();

}  // namespace adrs

// Confinement of the masker worker, applied by the worker to itself before it loads candidate code.
#pragma once

#include <string>

namespace adrs {

// Applies resource limits: address space, CPU seconds, largest file written, no core files.
void apply_resource_limits(long memory_mb, long cpu_seconds, long max_file_mb);

// Dies with the parent (PR_SET_PDEATHSIG) and gives up if the parent is already gone.
bool follow_parent(int expected_parent);

// Cuts the process off: a new network namespace (no interfaces) where the kernel allows, all
// capabilities dropped, no_new_privs, and a seccomp filter that traps process creation, exec,
// sockets, signals to other processes, ptrace, namespaces and io_uring. A trapped call ends the
// worker with worker_exit::kForbiddenSyscall after writing a message to `message_fd`.
// `masker_path` stays readable and executable, `scratch_dir` writable; with Landlock (where the
// kernel has it) every other file outside the system library folders becomes unreachable.
// Returns false when the seccomp filter could not be loaded (the worker must not go on);
// `summary` says what was applied, for the worker's log.
bool enter_sandbox(int message_fd, const std::string& masker_path, const std::string& scratch_dir,
                   std::string* summary);

class Workload;

// Records which row the calling thread is working on, for crash messages, and the workload that
// names rows by layer, step and head.
void set_current_row(long row);
void set_crash_workload(const Workload* workload);

// Installs handlers that write "SIGSEGV in row R" to `message_fd` before the default action.
void install_crash_reporters(int message_fd);

// Gives the calling thread an alternate signal stack, so stack overflows are reported too.
void prepare_thread_for_crash_reports();

}  // namespace adrs

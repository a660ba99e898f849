// The compile jail's protocol, shared by the trusted side (compiler.cc) and `adrs-worker compile`
// (compile_main.cc).
//
//   adrs-worker compile --parent PID --compiler /usr/bin/g++-12 --source-path /src/masker.cpp
//                       --output-path /out/result [--pch-dir HOST_DIR] --memory-mb M
//                       --cpu-seconds C --max-file-mb F --scratch-mb S -- COMPILER ARGS...
//
// Descriptors the parent opens before the spawn (nothing else is inherited):
//   0 /dev/null; 1 and 2 the write end of the log pipe (compiler output; capped by the parent);
//   kSourceFd  the masker source (a sealed memfd), copied to --source-path inside the jail;
//   kHeaderFd  masker_api.h (a sealed memfd), copied next to the source: the only adrs file the
//              compiler can see;
//   kObjectFd  an empty memfd; after the compiler exits 0, the jail's init copies --output-path into
//              it (O_NOFOLLOW, regular file, size cap). The parent checks it again and copies it into
//              the cache itself: every write to the host's disk is the parent's, so a full disk is
//              always seen as the parent's error, never as the compiler's.
//
// The jail (evaluator/jail.h, as for the masker worker): a cgroup where one can be made, new mount,
// PID, network, IPC, UTS and cgroup namespaces (and a user namespace when not root); a tmpfs root
// holding /usr (and the /lib*, /bin symlinks of a merged-/usr system) and /etc/ld.so.cache
// read-only, /src and /adrs (filled, then sealed read-only), /out, /tmp, /status on the tmpfs
// (size --scratch-mb), /pch = HOST_DIR read-only (trusted: the precompiled header adrs built). The compiler runs with uid/gid 65534
// (when root), no_new_privs, the fixed environment PATH=/usr/bin:/bin, rlimits on address space, CPU seconds, file
// size and core files. The jail's init is PID 1 of the namespace and dies with the worker, which
// dies with adrs (PR_SET_PDEATHSIG): every compiler process dies with it.
//
// The exit status of the worker says what happened; the compiler cannot set it (only the init
// interprets the compiler's status). Faults are distinct codes so the parent never files them as
// compile errors. The compiler's output is never parsed to decide an outcome (a source can make
// it say anything: a static_assert message may hold newlines): signals that end a compiler
// subprocess are recorded by /adrs/wrap, which the parent installs with `-wrapper /adrs/wrap`.
#pragma once

namespace adrs {

namespace compile_worker {
constexpr int kSourceFd = 3;
constexpr int kHeaderFd = 4;
constexpr int kObjectFd = 5;

constexpr int kCompiled = 0;          // output copied into kObjectFd
constexpr int kRejected = 1;          // the compiler ran to completion and rejected the source
constexpr int kCompilerCrashed = 2;   // the compiler crashed (internal error, SIGSEGV...) on the source
constexpr int kCpuLimit = 3;          // the compiler ran out of CPU seconds
constexpr int kOutputTooLarge = 4;    // output over --max-file-mb
constexpr int kJailFault = 10;        // the jail could not be set up (a harness fault)
constexpr int kCompilerKilled = 11;   // a compiler process was killed from outside (SIGKILL: OOM killer...)
constexpr int kUsage = 12;
}  // namespace compile_worker

// `adrs-worker compile ...`: sets up the jail and runs the compiler in it (compile_main.cc).
int run_compile_worker(int argc, char** argv);

}  // namespace adrs

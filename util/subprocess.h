// run_process: start a program by exec in its own process group, wait for it with a wall-clock
// timeout, and kill the whole group when it runs over (or when `cancel` becomes true).
// Standard output and error go to a file or a descriptor the caller opened (a memfd), so a chatty
// child can never block on a full pipe. The child gets stdin (/dev/null), stdout, stderr and the
// descriptors in `fds` (as 3, 4, ...) and nothing else: every other descriptor of this process,
// close-on-exec or not, is closed in the child.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "util/status.h"

namespace adrs {

struct ProcessOptions {
  std::vector<std::string> argv;       // argv[0] is a path to the program
  std::vector<std::string> env;        // the child's whole environment ("NAME=value")
  std::string cwd;                     // "" keeps ours
  std::string output_path;             // stdout + stderr; "" sends them to /dev/null (or output_fd)
  int output_fd = -1;                  // stdout + stderr to this descriptor (output_path must be "")
  std::vector<int> fds;                // passed to the child as descriptors 3, 4, ... in this order
  double timeout_s = 0.0;              // 0: no limit
  const std::atomic<bool>* cancel = nullptr;
};

struct ProcessResult {
  Status start;            // not ok when the program could not be started
  bool timed_out = false;  // killed by us at the deadline
  bool cancelled = false;  // killed by us because `cancel` became true
  bool exited = false;     // exit_code is valid
  int exit_code = -1;
  int signal = 0;          // the signal that ended it, when it did not exit
  double wall_s = 0.0;
  int pid = -1;            // the child's pid (its process group too)
};

ProcessResult run_process(const ProcessOptions& options);

// The last `max_bytes` of a descriptor, with non-printable bytes replaced (read with pread from
// its current size; never blocks on a regular file or memfd). A descriptor that is not a regular
// file gives "".
std::string read_fd_tail(int fd, size_t max_bytes);

// Human name of a signal: "SIGSEGV (segmentation fault)".
std::string signal_description(int signal);

// Ok when this process's file-size limit (RLIMIT_FSIZE, `ulimit -f`), which every child inherits
// and can only lower, leaves room for a child to write `bytes` (`what` names that output);
// otherwise an error naming the limit and the fix. A child stopped by a limit it inherited from us
// ran into the machine's limit, like a full disk: a fault of the harness, never of the candidate.
Status check_file_size_limit(uint64_t bytes, const std::string& what);

// Directory of the running executable (to find sibling programs such as the masker worker).
std::string executable_dir();

}  // namespace adrs

// Starts `adrs-worker compile` (the compiler jail, evaluator/compile_worker.h) and waits for it:
// the source and the API header go in through sealed memfds, the compiler's output comes back
// through a pipe (capped; the rest is drained and counted, so a chatty compiler never blocks) and
// the compiled object through a memfd. Nothing of the jail is ever opened by path.
#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "util/status.h"

namespace adrs {

struct JailRequest {
  std::string compiler;                // absolute path inside the toolchain (/usr/...)
  std::vector<std::string> args;       // compiler arguments, with jail paths (/src, /out, /pch)
  std::string source;                  // written to source_path inside the jail
  std::string source_path = "/src/masker.cpp";
  std::string header;                  // masker_api.h, written beside the source
  std::string output_path = "/out/result";
  std::string pch_dir;                 // host directory bound read-only at /pch ("" : none)
  long memory_mb = 4096;
  double timeout_s = 60.0;
  long max_file_mb = 64;
  size_t max_log_bytes = 64 * 1024;
  const std::atomic<bool>* cancel = nullptr;
};

struct JailRun {
  Status start;             // not ok: the jail could not be started (pipes, memfds, spawn): a fault
  bool timed_out = false;   // killed by us at the wall-clock deadline
  bool cancelled = false;
  bool exited = false;      // exit_code is the worker's (compile_worker::k...)
  int exit_code = -1;
  int signal = 0;           // the worker died of this signal (a fault: we did not send it)
  double wall_s = 0.0;
  double cpu_s = 0.0;       // user + system of the worker and everything it waited for
  std::string log;          // compiler output, printable, capped at max_log_bytes
  int object_fd = -1;       // memfd with the output (valid when exit_code == kCompiled); caller closes
  size_t object_size = 0;
};

JailRun run_compile_jail(const JailRequest& request);

}  // namespace adrs

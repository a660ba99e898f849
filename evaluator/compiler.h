// Compiles masker sources into shared objects, inside a jail, cached by content.
//
// Contract:
//  - The compiler runs only in the jail of `adrs-worker compile` (evaluator/compile_worker.h): it
//    sees the read-only toolchain, the masker source, a private copy of masker_api.h, the
//    precompiled header and a scratch tmpfs; nothing else of the host or of the source tree.
//  - Its output (stored, shown, sent to the LLM) is capped and names the source "masker.cpp".
//  - The cache (evaluator/compile_cache.h) is keyed by SHA-256 of source, flags, compiler identity
//    and API header, and an entry is used only when its stored source equals the candidate's.
//  - Outcomes: kCompiled; kCompileError only when the compiler ran to completion and rejected the
//    source (or its output broke a limit the source controls); kTimeout at the time limit.
//    Everything the candidate cannot cause (ENOSPC/EIO/EMFILE, a compiler killed by a signal we did
//    not send, a jail that cannot be set up, a missing toolchain) is kSetupError, a harness fault:
//    never cached, and the same source compiles once the fault is cleared. Only kCompiled and
//    kCompileError are cached.
#pragma once

#include <atomic>
#include <string>

#include "util/status.h"

namespace adrs {

struct CompileOptions {
  std::string cache_dir;        // holds <key>.entry, <key>.so, pch-<key>/
  double timeout_s = 60.0;
  long memory_mb = 4096;
  const std::atomic<bool>* cancel = nullptr;
};

struct CompileResult {
  enum class Outcome { kCompiled, kCompileError, kTimeout, kCancelled, kSetupError };
  Outcome outcome = Outcome::kSetupError;
  std::string so_path;   // set when compiled
  std::string log;       // compiler output (errors, warnings), capped
  std::string message;   // one line for the user when not compiled
  std::string key;       // SHA-256 cache key
  bool cached = false;
  double wall_s = 0.0;
  double cpu_s = 0.0;    // CPU seconds of the jail and the compiler (0 when cached)
  bool ok() const { return outcome == Outcome::kCompiled; }
};

CompileResult compile_masker(const std::string& source, const CompileOptions& options);

// The directory holding masker_api.h.
std::string masker_include_dir();

// The first `max_lines` lines of compiler output that matter (errors first), for messages/prompts.
std::string trim_compiler_log(const std::string& log, int max_lines);

// Compiler messages call the candidate "masker.cpp" (its name inside the jail); a command that
// compiled a user's own file shows that file's name instead ("my_masker.cpp:12:3: error ...").
std::string name_masker_file(std::string log, const std::string& shown_name);

// Default cache root: $ADRS_CACHE_DIR, else $XDG_CACHE_HOME/adrs, else $HOME/.cache/adrs.
std::string default_cache_dir();

// Creates a directory and its parents.
Status make_directories(const std::string& path);

}  // namespace adrs

// Compiles masker sources into shared objects, cached by content: the cache key hashes the source,
// the flags, the compiler's version and the masker API header, so the same source never compiles
// twice (failed compiles are cached too, with their log).
#pragma once

#include <atomic>
#include <string>

#include "util/status.h"

namespace adrs {

struct CompileOptions {
  std::string cache_dir;        // holds <key>.so, <key>.log
  double timeout_s = 60.0;
  long memory_mb = 4096;
  const std::atomic<bool>* cancel = nullptr;
};

struct CompileResult {
  enum class Outcome { kCompiled, kCompileError, kTimeout, kCancelled, kSetupError };
  Outcome outcome = Outcome::kSetupError;
  std::string so_path;   // set when compiled
  std::string log;       // compiler output (errors, warnings)
  std::string message;   // one line for the user when not compiled
  std::string key;       // content hash
  bool cached = false;
  double wall_s = 0.0;
  bool ok() const { return outcome == Outcome::kCompiled; }
};

CompileResult compile_masker(const std::string& source, const CompileOptions& options);

// The directory holding masker_api.h.
std::string masker_include_dir();

// The first `max_lines` lines of compiler output that matter (errors first), for messages/prompts.
std::string trim_compiler_log(const std::string& log, int max_lines);

// Default cache root: $ADRS_CACHE_DIR, else $XDG_CACHE_HOME/adrs, else $HOME/.cache/adrs.
std::string default_cache_dir();

// Creates a directory and its parents.
Status make_directories(const std::string& path);

}  // namespace adrs

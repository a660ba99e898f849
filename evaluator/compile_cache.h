// CompileCache: compiled maskers (and compile errors) on disk, keyed by SHA-256 and verified.
//
// Contract:
//  - The key is SHA-256 over length-prefixed fields (source, flags, compiler identity, API header,
//    precompiled headers): see compile_key(). The caller computes it; the cache never trusts it.
//  - An entry is <key>.entry (outcome, stored source, compile log, SHA-256 of the object) and, for
//    a compiled masker, <key>.so. find() answers a hit only when the stored source equals the
//    candidate's byte for byte AND the object's digest equals the recorded one: a planted or
//    colliding entry, a truncated object or an object swapped under the entry is a miss.
//  - Only compiled objects and real compile errors (the compiler ran to completion and rejected the
//    source) are stored. Faults are never stored: the caller does not call store_*() for them.
//  - Every file is read with O_NOFOLLOW, checked to be a regular file and read under a size cap;
//    every file is written to a temporary name "tmp.<pid>.*" and renamed into place, so readers see
//    an old entry or a whole new one. A write that fails (ENOSPC, EIO) returns a Status naming the
//    error and leaves no partial entry.
//  - Open() removes temporary files left by processes that are gone (kill -9 mid-store).
#pragma once

#include <memory>
#include <string>

#include "util/file.h"  // read_regular_file: how every cache file is read
#include "util/status.h"

namespace adrs {

// Largest masker object kept (a masker is a few hundred KiB; anything bigger is an attack or a
// bug, and must not stay in the cache).
constexpr size_t kMaxMaskerObjectBytes = 64u << 20;

class CompileCache {
 public:
  enum class Hit { kMiss, kCompiled, kCompileError };
  struct Lookup {
    Hit hit = Hit::kMiss;
    std::string so_path;  // kCompiled
    std::string log;      // kCompiled, kCompileError
  };

  // Creates `dir` when missing and removes stale temporary files in it.
  static Status Open(const std::string& dir, std::unique_ptr<CompileCache>* out);

  Lookup find(const std::string& key, const std::string& source) const;

  // Copies `object_size` bytes of the object from descriptor `object_fd` (read from offset 0) into
  // the cache and records the entry; *so_path is where the object now lives.
  Status store_compiled(const std::string& key, const std::string& source, const std::string& log, int object_fd,
                        size_t object_size, std::string* so_path) const;
  Status store_compile_error(const std::string& key, const std::string& source, const std::string& log) const;

  const std::string& dir() const { return dir_; }

 private:
  explicit CompileCache(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
};

// Writes `bytes` to `dir`/tmp.<pid>.<unique>, fsyncs and renames it to `dir`/`name`.
Status write_file_atomically(const std::string& dir, const std::string& name, const std::string& bytes);

// Removes tmp.<pid>.* files of `dir` whose process is gone; returns how many.
int remove_stale_temp_files(const std::string& dir);

}  // namespace adrs

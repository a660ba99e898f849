// Atomic run creation for `adrs run`: a run directory either exists complete (config, seed row
// evaluated) or not at all.
//
//   validate config ─▶ <runs>/.<name>.creating-<pid>/ (locked) ─▶ evaluators (workload checked)
//     ─▶ run.db + config + seed row ─▶ seed compiled and evaluated ─▶ rename to <runs>/<name>
//
// Everything that can refuse the run (a bad number, an unknown workload, a seed that does not
// compile) is found before the rename, and the temporary directory is removed on every error
// path. A creation killed at any instant leaves only a temporary sibling whose lock is free; the
// next `adrs run` in that runs directory removes it. A run directory left by an older adrs that
// was killed while creating (no database, an empty or foreign one, no config, no seed row) is
// recognized as a leftover: `--force` removes it, resume explains what it is.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "driver/run/run_config.h"
#include "driver/run/run_session.h"

namespace adrs {

struct CreatedRun {
  std::string run_dir;              // <runs>/<name>, complete
  std::unique_ptr<RunLock> lock;    // held from creation on (it moved with the rename)
  std::unique_ptr<RunDb> db;        // open read-write at run_dir/run.db
};

// Exit-code class of a creation failure: usage (2: fix the input), fault (1: the harness or the
// storage failed), interrupted (130).
enum class CreateFailure { kNone, kUsage, kFault, kInterrupted };

// Builds the run as above. `force` removes a leftover partial directory at the target (never a
// complete run, never a directory holding files adrs did not write).
Status create_run(const RunConfig& config, const std::string& seed_source, const std::string& runs_dir, bool force,
                  const std::atomic<bool>& interrupt, CreatedRun* out, CreateFailure* failure);

// What sits at a run directory: nothing, a complete run, a leftover of an unfinished creation, or
// something that is not adrs's. `why` says which, in a sentence.
enum class RunDirKind { kMissing, kRun, kLeftover, kForeign };
RunDirKind classify_run_dir(const std::string& run_dir, std::string* why);

// Removes <runs>/.<name>.creating-<pid> directories whose creator is gone (their lock is free).
void remove_stale_creations(const std::string& runs_dir);

}  // namespace adrs

// Run: one evolution run's whole lifecycle as a library object, so that `adrs run`, `adrs resume`
// and tests drive a run the same way without starting a process.
//
//   Run::Create(config, seed)      ─▶ runs/<name>/ complete (run_create.h), locked, seed scored
//   Run::Open(dir)                 ─▶ an existing run, locked for writing, its stored config read
//     run->Reconfigure(wanted)     ─▶ only stop conditions and limits may change (the rest is refused)
//   run->Drive(options, &result)   ─▶ the loop (run_loop.h), the held-out phase (heldout.h), the stop
//                                     recorded; safe to call again after an interrupt (resume)
//   replay_candidate(dir, id, ...) ─▶ (replay.h) a stored candidate rebuilt and scored again
//
// A Run holds the run's lock from Create/Open until it is destroyed, so no other process drives or
// changes it meanwhile; inspection (status, best, show) keeps working from other processes. Every
// error says what to fix; its code (util/status.h) tells the caller which exit status to give:
// kBusy another process holds the run, kFault the machine or adrs failed, kInterrupted Ctrl-C
// during creation, anything else bad input.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "driver/run/run_config.h"
#include "driver/run/run_create.h"
#include "driver/run/run_db.h"
#include "driver/run/run_loop.h"
#include "driver/run/run_session.h"

namespace adrs {

struct CreateOptions {
  std::string runs_dir = "runs";                 // the run goes to <runs_dir>/<config.name>
  bool force = false;                            // remove a leftover of an unfinished creation there
  const std::atomic<bool>* interrupt = nullptr;  // Ctrl-C: creation stops, nothing is left behind
};

struct OpenOptions {
  bool allow_version_change = false;  // continue a run made by another adrs release
};

struct DriveOptions {
  std::string command = "run";                   // how the start event is named: run or resume
  const std::atomic<bool>* interrupt = nullptr;  // set by SIGINT / SIGTERM
  bool live_status = false;                      // one refreshing status line (a terminal)
  bool quiet = false;                            // no per-candidate log lines
  bool progress = true;                          // the start line and held-out progress on stderr
};

class Run {
 public:
  // Builds runs/<name> from a validated config and the seed masker's source (run_create.h: the
  // directory exists complete or not at all). On a failure the status code says why: bad input,
  // kFault, or kInterrupted.
  static Status Create(const RunConfig& config, const std::string& seed_source, const CreateOptions& options,
                       std::unique_ptr<Run>* out);

  // Opens an existing run to continue it: refuses a leftover of an unfinished creation, a damaged
  // database, a run another process holds (kBusy) and one made by another adrs release (unless
  // allowed). The run's stored config becomes config().
  static Status Open(const std::string& run_dir, const OpenOptions& options, std::unique_ptr<Run>* out);

  Run(const Run&) = delete;
  Run& operator=(const Run&) = delete;
  ~Run();

  // Continues with `wanted` instead of the stored config. Keys that define the search are refused
  // with the list of differences; stop conditions and resource limits are stored with an event.
  // `changed` lists what changed ("" when nothing did).
  Status Reconfigure(const RunConfig& wanted, std::string* changed);

  // Runs the loop until a stop condition, an interrupt or a fault; then, unless it was interrupted
  // or failed, scores the top candidates on the held-out settings; then records the stop. The
  // result says why it stopped (a fault of the loop is a result with kError, not an error here).
  // An error (code kFault) means the evaluators or the proposer could not start, or the start or
  // the stop could not be recorded (then `result` still says what stopped the run).
  Status Drive(const DriveOptions& options, LoopResult* result);

  // The summary of `adrs status` (run_report.h), from this run's own connection.
  Status Summary(nlohmann::json* out) const;

  const std::string& dir() const { return dir_; }
  const RunConfig& config() const { return config_; }
  RunDb& db() { return *db_; }

 private:
  Run() = default;
  Status start_session(const DriveOptions& options, const std::string& backend, const std::string& proposer);
  Status record_stop(const LoopResult& result);
  void finish_heldout(const DriveOptions& options, LoopResult* result);

  std::string dir_;
  RunConfig config_;
  std::string made_by_;  // the adrs release that made (or last resumed) the run
  std::unique_ptr<RunLock> lock_;
  std::unique_ptr<RunDb> db_;
};

}  // namespace adrs

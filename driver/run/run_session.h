// What `adrs run`, `adrs resume` and the inspection commands share: finding and opening a run
// directory, the lock that keeps two processes from running one run, version checks, Ctrl-C, and
// the proposer factory.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "driver/propose/proposer.h"
#include "driver/run/run_config.h"
#include "driver/run/run_db.h"
#include "util/interrupt.h"

namespace adrs {

// The adrs release this binary is; stored in every run. A run made by another release is only
// resumed with --allow-version-change (its scores may not be comparable).
inline constexpr const char* kAdrsVersion = "0.1.0";

std::string run_db_path(const std::string& run_dir);

// What a user typed for a run: a path (runs/my-run, /abs/runs/my-run) or a bare name (my-run,
// meaning runs/my-run). A path that holds a run wins; else runs/<name> when that holds one; else
// the text unchanged (the error then names it).
std::string resolve_run_dir(const std::string& given);

// Opens an existing run for reading (works while another process runs it). Errors say whether
// the directory is missing, is not a run, or holds a damaged database.
Status open_run_for_reading(const std::string& run_dir, std::unique_ptr<RunDb>* db);

// The config stored in a run.
Status stored_config(const RunDb& db, RunConfig* config);

// An exclusive lock on runs/<name>/lock held while a process runs the run (released on exit,
// even on kill -9). Fails with a message naming the holder's pid when another process has it.
class RunLock {
 public:
  static Status Acquire(const std::string& run_dir, std::unique_ptr<RunLock>* out);
  ~RunLock();

 private:
  int fd_ = -1;
};

// The Ctrl-C handler of run and resume (util/interrupt.h): the database stays consistent; resume
// redoes what was in flight.
const std::atomic<bool>& install_run_interrupt_handler();

// Makes the proposer named by config.proposer: "offline", or "llm" (driver/llm/llm_proposer.h, from
// the config's [llm] table). set_llm_proposer_factory replaces the LLM one (tests, fakes).
using ProposerFactory = std::function<Status(const RunConfig&, RunDb&, std::unique_ptr<Proposer>*)>;
void set_llm_proposer_factory(ProposerFactory factory);
Status make_proposer(const RunConfig& config, RunDb& db, std::unique_ptr<Proposer>* out);

// How to call this adrs binary in printed hints ("build/adrs" from the repository root).
std::string adrs_command_name();

}  // namespace adrs

#include "driver/run/run.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "driver/propose/offline_proposer.h"
#include "driver/run/executor.h"
#include "driver/run/heldout.h"
#include "driver/run/run_report.h"
#include "driver/run/suite_eval.h"

namespace adrs {

namespace {

namespace fs = std::filesystem;

// A few pages kept free on the run's file system: when a full disk stops the run, this file is
// deleted first, so the stop (reason, status, event) can still be written and the run is not
// later mistaken for one that was killed.
constexpr size_t kReserveBytes = 64 * 1024;
std::string reserve_path(const std::string& run_dir) { return run_dir + "/.reserve"; }

void make_reserve(const std::string& run_dir) {
  const int fd = ::open(reserve_path(run_dir).c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return;
  // Real blocks (posix_fallocate), not a hole: a sparse file would free nothing.
  if (::posix_fallocate(fd, 0, kReserveBytes) != 0) {
    ::close(fd);
    ::unlink(reserve_path(run_dir).c_str());
    return;
  }
  ::close(fd);
}

// The run directory was deleted while a compile was starting: the compile cache may have put
// back an empty run_dir/cache. Remove what it re-created (only adrs's entries, no run.db), so a
// deleted run stays deleted; a directory holding anything else is left alone.
void forget_recreated_cache(const std::string& run_dir) {
  std::string why;
  std::error_code ec;
  if (!fs::exists(run_dir, ec) || fs::exists(run_db_path(run_dir), ec)) return;
  if (classify_run_dir(run_dir, &why) != RunDirKind::kLeftover) return;
  fs::remove_all(run_dir, ec);
  if (!ec) std::fprintf(stderr, "adrs: removed %s again: a compile in flight had re-created its cache/\n", run_dir.c_str());
}

std::string cache_dir_of(const RunConfig& config, const std::string& run_dir) {
  return config.cache_dir.empty() ? run_dir + "/cache" : config.cache_dir;
}

// Before any write: the same clear errors as the inspection commands (missing, not a run, a
// leftover of an unfinished creation, a damaged database).
Status check_resumable(const std::string& run_dir) {
  std::string why;
  if (classify_run_dir(run_dir, &why) == RunDirKind::kLeftover) {
    const fs::path p(run_dir);
    return Status::Error(run_dir + " is the leftover of a run whose creation did not finish (" + why +
                         "); there is nothing to resume. Start it again with adrs run --runs-dir " + p.parent_path().string() +
                         " --name " + p.filename().string() + " --force (which removes it)");
  }
  std::unique_ptr<RunDb> probe;
  if (Status s = open_run_for_reading(run_dir, &probe); !s.ok() && !s.is(StatusCode::kOldSchema)) return s;
  if (probe)
    if (Status s = probe->quick_check(); !s.ok()) return s;
  return Status::Ok();
}

}  // namespace

Run::~Run() = default;

Status Run::Create(const RunConfig& config, const std::string& seed_source, const CreateOptions& options, std::unique_ptr<Run>* out) {
  static const std::atomic<bool> never{false};
  CreatedRun created;
  CreateFailure failure = CreateFailure::kNone;
  if (Status s = create_run(config, seed_source, options.runs_dir, options.force, options.interrupt ? *options.interrupt : never,
                            &created, &failure);
      !s.ok())
    return failure == CreateFailure::kInterrupted ? Status::Interrupted(s.message())
           : failure == CreateFailure::kFault     ? Status::Fault(s.message())
                                                  : Status::Error(s.message());
  std::unique_ptr<Run> run(new Run());
  run->dir_ = created.run_dir;
  run->config_ = config;
  run->made_by_ = kAdrsVersion;
  run->lock_ = std::move(created.lock);
  run->db_ = std::move(created.db);
  *out = std::move(run);
  return Status::Ok();
}

Status Run::Open(const std::string& given_dir, const OpenOptions& options, std::unique_ptr<Run>* out) {
  std::string run_dir = given_dir;
  while (run_dir.size() > 1 && run_dir.back() == '/') run_dir.pop_back();
  remove_stale_creations(fs::path(run_dir).parent_path().empty() ? "." : fs::path(run_dir).parent_path().string());
  if (Status s = check_resumable(run_dir); !s.ok()) return s;
  std::unique_ptr<Run> run(new Run());
  run->dir_ = run_dir;
  if (Status s = RunLock::Acquire(run_dir, &run->lock_); !s.ok()) return s;
  if (Status s = RunDb::Open(run_db_path(run_dir), RunDb::Mode::kReadWrite, &run->db_); !s.ok()) return s;
  bool has_version = false;
  if (Status s = run->db_->read_state("adrs_version", &run->made_by_, &has_version); !s.ok()) return s;
  if (!has_version) run->made_by_ = "unknown";
  if (run->made_by_ != kAdrsVersion && !options.allow_version_change)
    return Status::Error(run_dir + " was made by adrs " + run->made_by_ + ", this is adrs " + kAdrsVersion +
                         "; scores may not be comparable. Pass --allow-version-change to continue anyway");
  if (Status s = stored_config(*run->db_, &run->config_); !s.ok()) return s;
  *out = std::move(run);
  return Status::Ok();
}

Status Run::Reconfigure(const RunConfig& wanted, std::string* changed) {
  std::string refused;
  changed->clear();
  for (const ConfigDifference& d : diff_configs(config_, wanted))
    (d.changeable ? *changed : refused) += "\n  " + d.key + ": " + d.before + " -> " + d.after;
  if (!refused.empty())
    return Status::Error("the config differs from the run's in keys that define the search, so the run cannot continue:" + refused +
                         "\nstart a new run with adrs run for these settings, or drop the changes");
  if (!changed->empty()) {
    if (Status s = db_->add_event("config", "changed on resume:" + *changed); !s.ok()) return s;
    if (Status s = db_->set_state("config", config_to_json(wanted).dump()); !s.ok()) return s;
    config_ = wanted;
  }
  if (made_by_ != kAdrsVersion) {
    if (Status s = db_->add_event("version", "resumed by adrs " + std::string(kAdrsVersion) + " (made by " + made_by_ + ")"); !s.ok())
      return s;
    if (Status s = db_->set_state("adrs_version", kAdrsVersion); !s.ok()) return s;
    made_by_ = kAdrsVersion;
  }
  return Status::Ok();
}

// Records the session's start (status, the devices --device and --devices found, an event) and
// logs the run's first line: what scores on what, the schedule and how much runs at once.
Status Run::start_session(const DriveOptions& options, const RunEvaluators& evaluators, const Proposer& proposer,
                          const Executor& executor) {
  std::string devices;  // what --device auto chose, one entry per GPU
  for (const std::string& label : evaluators.device_labels()) devices += (devices.empty() ? "" : ", ") + label;
  Status s = db_->set_states({{"status", "running"}, {"pid", std::to_string(::getpid())}, {"stop_reason", ""}, {"stop_detail", ""},
                              {"scoring_devices", devices}});
  if (s.ok())
    s = db_->add_event(options.command, "adrs " + std::string(kAdrsVersion) + ", pid " + std::to_string(::getpid()) + ", proposer " +
                                            proposer.describe() + ", scored on " + devices + ", executor " + executor.describe());
  if (!s.ok()) return Status::Fault(s.message());
  if (!options.progress) return s;
  const int workers = resolve_eval_workers(config_, evaluators.gpus());
  const int parallel = resolve_parallel(config_, workers);
  spdlog::info("{} {}: {} scored on {}, proposer {}, schedule {}, parallel {}, {} evaluations at once, executor {}, budget {} candidates",
               options.command, dir_,
               config_.suite.empty() ? fmt::format("workload {} at target density {}", config_.workload, config_.target_density)
                                     : "suite " + config_.suite,
               devices, proposer.describe(), config_.schedule, parallel, config_.async() ? workers : parallel, executor.describe(),
               config_.max_candidates);
  return s;
}

// When the loop stopped on its own (not a fault, not Ctrl-C): the held-out evaluation of the top
// K, resumable (heldout.h). Its interruption or fault becomes the run's stop.
void Run::finish_heldout(const DriveOptions& options, LoopResult* result) {
  if (result->stop_reason == StopReason::kError || result->stop_reason == StopReason::kInterrupted || heldout_settings(config_).empty())
    return;
  static const std::atomic<bool> never{false};
  HeldoutOptions heldout;
  heldout.cache_dir = cache_dir_of(config_, dir_);
  heldout.cancel = options.interrupt ? options.interrupt : &never;
  heldout.progress = options.progress;
  if (heldout.progress) spdlog::info("held-out evaluation of the top {} on {}", config_.heldout_top_k, config_.heldout);
  Status s = db_->add_event("heldout", "evaluating the top " + std::to_string(config_.heldout_top_k) + " on " + config_.heldout);
  if (s.ok()) s = run_heldout(config_, *db_, heldout);
  if (s.ok()) return;
  const bool interrupted = heldout.cancel->load();
  *result = {interrupted ? StopReason::kInterrupted : StopReason::kError, s.message(), interrupted ? Status::Ok() : s};
}

// A fault (disk full, a database error) is never recorded as an interruption: the reserve is
// given back first, so the stop record fits on a full disk.
Status Run::record_stop(const LoopResult& result) {
  if (result.stop_reason == StopReason::kError) ::unlink(reserve_path(dir_).c_str());
  const std::string status = result.stop_reason == StopReason::kInterrupted ? "interrupted"
                             : result.stop_reason == StopReason::kError     ? "failed"
                                                                            : "stopped";
  const std::string reason = stop_reason_name(result.stop_reason);
  Status recorded = db_->set_states({{"status", status}, {"stop_reason", reason}, {"stop_detail", result.stop_detail}});
  if (recorded.ok()) recorded = db_->add_event("stop", reason + ": " + result.stop_detail);
  if (!db_->check_identity().ok() && config_.cache_dir.empty()) forget_recreated_cache(dir_);
  if (recorded.ok()) return recorded;
  const std::string what = result.stop_reason == StopReason::kError ? result.stop_detail : "stopped (" + reason + ")";
  return Status::Fault(what + "; the stop could not be recorded: " + recorded.message());
}

Status Run::Drive(const DriveOptions& options, LoopResult* result) {
  make_reserve(dir_);
  RunEvaluators evaluators;
  // The config was validated when the run was created: an evaluator that cannot start now is a
  // fault of the machine (a full disk, a missing temp dir).
  if (Status s = make_run_evaluators(config_, cache_dir_of(config_, dir_), &evaluators); !s.ok()) return Status::Fault(s.message());
  std::unique_ptr<Executor> executor;  // where evaluations run: here, or as Slurm tasks
  if (Status s = make_executor(config_, dir_, db_.get(), &executor); !s.ok()) return s;
  evaluators.executor = executor.get();
  std::unique_ptr<Proposer> proposer;
  if (Status s = make_proposer(config_, *db_, &proposer); !s.ok()) return s;
  OfflineProposer tuner;
  if (Status s = start_session(options, evaluators, *proposer, *executor); !s.ok()) return s;
  LoopOptions loop;
  loop.interrupt = options.interrupt;
  loop.live_status = options.live_status;
  loop.quiet = options.quiet;
  *result = run_loop(config_, *db_, *proposer, &tuner, evaluators, loop);
  evaluators = RunEvaluators();  // their memory goes back before the held-out workloads are built
  finish_heldout(options, result);
  return record_stop(*result);
}

Status Run::Summary(nlohmann::json* out) const { return run_summary(*db_, dir_, out, true); }

}  // namespace adrs

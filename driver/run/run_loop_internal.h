// The loop's state between its steps (internal to run_loop.cc and run_loop_intake.cc): the rows,
// the population built from them, the workers, the schedule's slots and why the run stops.
// run_loop() drives it; each method is one concern (stop policy, intake, issuing, collecting,
// heartbeat, the terminal's status line).
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "driver/run/eval_slots.h"
#include "driver/run/population.h"
#include "driver/run/run_loop.h"
#include "driver/run/worker_pool.h"

namespace adrs {

class Loop {
 public:
  Loop(const RunConfig& config, RunDb& db, Proposer& proposer, Proposer* tuner, RunEvaluators& evaluators, const LoopOptions& options);

  Status load();
  void run();
  LoopResult finish();

 private:
  using Clock = std::chrono::steady_clock;
  double elapsed() const { return elapsed_before_ + std::chrono::duration<double>(Clock::now() - session_start_).count(); }
  void stop(StopReason reason, const std::string& detail, const Status& error = Status::Ok());
  bool stopped() const { return result_.stop_reason != StopReason::kNone; }

  // Intake (run_loop_intake.cc): how terminal rows enter the population.
  bool take_in(int64_t through);    // deterministic: in id order up to `through`; false while one is in flight
  void take_in_finished();          // asynchronous: in completion order, which is stored
  void restore_applied_order();     // asynchronous resume: the stored order, then what was never applied
  void absorb(const CandidateRow& row);
  void count_proposer_errors(const CandidateRow& row);
  void check_population_stops();

  void check_session_stops(const WorkerPool& pool);
  bool may_issue(const WorkerPool& pool);
  void issue(WorkerPool& pool);
  Status insert_selected(const Choice& choice);
  void collect(WorkerPool& pool);
  void heartbeat();
  void show_status_line(const WorkerPool& pool);

  const RunConfig& config_;
  RunDb& db_;
  Proposer& proposer_;
  const LoopOptions& options_;
  std::atomic<bool> cancel_{false};
  // Schedule: deterministic (parallel_ candidates in flight, each its own slot) or asynchronous
  // (parallel_ proposals at once, eval_workers_ evaluations at once, up to max_in_flight_ rows).
  const bool async_;
  const int eval_workers_, parallel_, max_in_flight_;
  std::mutex dedup_mutex_;
  EvalSlots eval_slots_;
  StepContext context_;
  Population population_;
  std::map<int64_t, CandidateRow> rows_;
  int64_t next_id_ = 1;
  int64_t taken_in_ = 0;            // deterministic: rows 1..taken_in_ are in the population
  std::set<int64_t> applied_;       // asynchronous: rows in the population
  std::vector<int64_t> finished_;   // asynchronous: terminal rows not yet in it, in completion order
  int64_t finished_this_session_ = 0;
  const double elapsed_before_;
  const Clock::time_point session_start_ = Clock::now();
  Clock::time_point last_heartbeat_ = Clock::now() - std::chrono::seconds(10);
  Clock::time_point last_line_ = Clock::now();
  // "new best" is announced only for a significant improvement (suite.h: beyond the seed noise of
  // the two and the run's margin).
  double shown_best_ = -INFINITY, shown_std_ = 0.0;
  // Proposer errors of one kind in a row among rows finished in this session (a resume after the
  // fix starts counting afresh).
  std::set<int64_t> terminal_at_start_;
  std::string error_kind_;
  int64_t errors_in_a_row_ = 0;
  CandidateRow last_error_;
  LoopResult result_;
};

}  // namespace adrs

// The evolution loop: select, propose, check, evaluate, store — with `parallel` candidates in
// flight on worker threads that always end (every blocking step has a timeout or a cancel flag).
//
// Determinism: candidate i is chosen from the population of candidates 1..i-parallel (the loop
// waits for them), with randomness derived from (run seed, i). So a run interrupted at any
// instant and resumed makes the same choices as one that never stopped (given a deterministic
// proposer and the same `parallel`).
// Stop conditions (checked in id order as results are taken in, plus wall time and interrupts):
// max_candidates, target_score, patience, max_cost, max_wall_s, an interrupt (Ctrl-C: in-flight
// work is abandoned and redone by resume) and a harness fault (database or disk errors).
#pragma once

#include <atomic>
#include <string>

#include "driver/run/candidate_step.h"
#include "driver/propose/proposer.h"
#include "driver/run/run_config.h"
#include "driver/run/run_db.h"

namespace adrs {

struct LoopOptions {
  const std::atomic<bool>* interrupt = nullptr;  // set by SIGINT / SIGTERM
  bool live_status = false;                      // one refreshing status line (a terminal)
  bool quiet = false;                            // no per-candidate log lines
};

struct LoopResult {
  StopReason stop_reason = StopReason::kNone;
  std::string stop_detail;  // a sentence for `adrs status`
  Status error;             // set when stop_reason is kError
};

LoopResult run_loop(const RunConfig& config, RunDb& db, Proposer& proposer, Proposer* tuner,
                    RunEvaluators& evaluators, const LoopOptions& options);

// The stored source of the seed masker is read from config.seed_masker by the caller; this
// inserts it as candidate 1 (status proposed) when the run has no candidates yet.
Status insert_seed_candidate(RunDb& db, const std::string& source);

}  // namespace adrs

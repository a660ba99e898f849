// The evolution loop: select, propose, check, evaluate, store — with `parallel` candidates in
// flight on worker threads that always end (every blocking step has a timeout or a cancel flag).
//
// Two schedules (search.schedule, docs/DRIVER.md "Schedules"):
// - deterministic: candidate i is chosen from the population of candidates 1..i-parallel (the
//   loop waits for them), with randomness derived from (run seed, i). So a run interrupted at any
//   instant and resumed makes the same choices as one that never stopped (given a deterministic
//   proposer and the same `parallel`).
// - async: `parallel` proposals in flight and evaluations in their own slots (eval_workers); a
//   finished candidate enters the population at once, in completion order, which is stored
//   (applied_seq) before any choice depends on it. Each choice records how many rows it saw, so
//   every choice can be recomputed from the database and resume continues from exactly the
//   population the killed process had; which order results arrive in is up to timing.
//   Duplicates (by source, by behavior) are looked up among all ids, the first stored being the
//   original, instead of waiting for every smaller id (which may still be proposing).
// Stop conditions (checked as results are taken in, in id or completion order, plus wall time and
// interrupts): max_candidates, target_score, patience, max_cost, max_wall_s, proposer_errors
// (max_proposer_errors proposer errors of one kind in a row: a broken LLM setup must not burn the
// budget), an interrupt (Ctrl-C: in-flight work is abandoned and redone by resume) and a harness
// fault (database or disk errors).
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

// Evaluations at once: evaluation.eval_workers, or (0) executor.max_tasks on Slurm, else one
// per core's worth of masker workers and at least two per GPU. `gpus`: the GPUs scoring (0: CPU).
int resolve_eval_workers(const RunConfig& config, int gpus);
// search.parallel, or (0) enough candidates in flight to keep every evaluation slot busy.
int resolve_parallel(const RunConfig& config, int eval_workers);

// The stored source of the seed masker is read from config.seed_masker by the caller; this
// inserts it as candidate 1 (status proposed) when the run has no candidates yet.
Status insert_seed_candidate(RunDb& db, const std::string& source);

}  // namespace adrs

#include "driver/run/candidate_step.h"

#include <chrono>
#include <cmath>
#include <optional>
#include <thread>

#include <fmt/format.h>

#include "driver/run/executor.h"
#include "driver/run/run_hints.h"
#include "util/hash.h"

namespace adrs {

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

CandidateView view_of(const CandidateRow& row) {
  CandidateView v;
  v.id = row.id;
  v.source = row.source;
  v.score = row.score.value_or(NAN);
  v.error = row.error.value_or(NAN);
  v.density = row.density.value_or(NAN);
  v.metrics_json = row.metrics_json;
  return v;
}

// Writes a row, counting the time against the candidate's database stage.
Status timed_update(RunDb& db, CandidateRow* row) {
  const auto start = Clock::now();
  Status s = db.update_candidate(*row);
  row->db_s += since(start);
  return s;
}

// Reads an id stored in a request record; false when the record is damaged (never a throw on a
// worker thread).
bool stored_id(const nlohmann::json& value, int64_t* id) {
  if (!value.is_number_integer()) return false;
  *id = value.get<int64_t>();
  return true;
}

Status damaged_request(const CandidateRow& row) {
  return Status::Fault("candidate " + std::to_string(row.id) + " has a damaged request record; the run database was changed by hand");
}

// Builds the proposer's request from the row's stored selection (parent, inspirations, attempts)
// and says whether the offline tuner proposes it (use_tuner).
Status build_request(const StepContext& c, const CandidateRow& row, ProposalRequest* request, bool* use_tuner) {
  request->candidate_id = row.id;
  request->seed = row.proposer_seed;
  parse_mutation_kind(row.mutation, &request->kind);
  request->target_density = c.config->target_density;
  // With a suite, the proposer is told every setting (the score is their weighted mean).
  request->workload = c.config->suite.empty() ? c.config->workload : "the suite " + c.config->suite;
  if (c.config->track == "blind") request->workload += " (blind track: key reads are charged)";
  CandidateRow parent;
  if (!row.parent_id) return Status::Error("candidate " + std::to_string(row.id) + " has no parent to propose from");
  if (Status s = c.db->get_candidate(*row.parent_id, &parent); !s.ok()) return s;
  request->parent = view_of(parent);
  const nlohmann::json stored = nlohmann::json::parse(row.request_json.empty() ? "{}" : row.request_json, nullptr, false);
  if (!stored.is_object()) return damaged_request(row);
  const nlohmann::json use = stored.value("use_tuner", nlohmann::json(false));
  *use_tuner = use.is_boolean() && use.get<bool>();
  // A read that fails is a fault, never a smaller request: the proposal must be the one an
  // uninterrupted run makes.
  for (const auto& value : stored.value("inspirations", nlohmann::json::array())) {
    CandidateRow other;
    int64_t id = 0;
    if (!stored_id(value, &id)) return damaged_request(row);
    if (Status s = c.db->get_candidate(id, &other); !s.ok()) return s;
    request->inspirations.push_back(view_of(other));
  }
  for (const auto& a : stored.value("attempts", nlohmann::json::array())) {
    if (!a.is_object()) return damaged_request(row);
    AttemptView attempt;
    const nlohmann::json id = a.value("id", nlohmann::json(0)), kind = a.value("kind", nlohmann::json("diff")),
                         outcome = a.value("outcome", nlohmann::json("")), score = a.value("score", nlohmann::json(0.0));
    if (!stored_id(id, &attempt.id) || !kind.is_string() || !outcome.is_string() || !score.is_number()) return damaged_request(row);
    parse_mutation_kind(kind.get<std::string>(), &attempt.kind);
    attempt.outcome = outcome.get<std::string>();
    attempt.score = score.get<double>();
    request->recent_attempts.push_back(attempt);
  }
  request->hint = hint_of_request(row.request_json).text;
  if (stored.contains("fix_up_of")) {
    CandidateRow failed;
    int64_t id = 0;
    if (!stored_id(stored["fix_up_of"], &id)) return damaged_request(row);
    if (Status s = c.db->get_candidate(id, &failed); !s.ok()) return s;
    request->failed_source = failed.source;
    request->failure_feedback = failed.failure + ": " + failed.message;
    if (!failed.compile_log.empty()) request->failure_feedback += "\ncompiler output:\n" + trim_compiler_log(failed.compile_log, 30);
  }
  return Status::Ok();
}

// A verdict about adrs or the machine (disk full, a missing temp dir, too many open files, a
// worker that could not start), not about the candidate: the candidate stays in flight and
// resume redoes it. Only the evaluator says which is which (internal_error); the driver never
// guesses from message text.
bool harness_fault(const EvalResult& r) { return r.status == EvalStatus::kInternalError; }

// Fails the row with the evaluator's verdict.
void fail_with(const EvalResult& r, CandidateRow* row) {
  row->status = CandidateStatus::kFailed;
  row->failure = status_name(r.status);
  row->message = r.message;
  row->compile_log = r.compile_log;
}

}  // namespace

std::string check_outside_block(const std::string& parent, const std::string& child) {
  EvolveBlock a, b;
  if (Status s = find_evolve_block(child, &b); !s.ok()) return "the new source has broken EVOLVE markers: " + s.message();
  if (Status s = find_evolve_block(parent, &a); !s.ok()) return "";  // nothing to compare against
  if (parent.compare(0, a.begin, child, 0, b.begin) != 0) return "the edit changed text before the EVOLVE block";
  if (parent.compare(a.end, std::string::npos, child, b.end, std::string::npos) != 0)
    return "the edit changed text after the EVOLVE block";
  return "";
}

namespace {

// One candidate's step: the stages below share it. A stage returns nothing to go on, or the
// outcome that ends the step.
struct Step {
  const StepContext& c;
  CandidateRow* row;
  Status* fault;

  StepOutcome fail(Status s) {
    *fault = std::move(s);
    return StepOutcome::kFault;
  }
  // Moves the row to `to` (a legal move, candidate_state.h) and stores it: one transaction.
  std::optional<StepOutcome> commit(CandidateStatus from) {
    if (Status s = check_transition(from, row->status); !s.ok()) return fail(s);
    if (Status s = timed_update(*c.db, row); !s.ok()) return fail(s);
    return std::nullopt;
  }
};

// What the proposal checks found wrong ("" when nothing): the failure code goes to the row.
std::string proposal_failure(const Proposal& p, const std::string& outside) {
  if (p.status == Proposal::Status::kPatchError) return std::string("patch:") + patch_error_name(p.patch_error);
  return outside.empty() ? "proposer_error" : "patch:outside_block";
}

// Deterministic schedule: whether the new source repeats an earlier candidate's must not depend
// on timing, so every earlier candidate's proposal (in flight beside this one) is known before the
// lookup, and a run and its resume agree. False when cancelled while waiting. (The asynchronous
// schedule looks among all ids instead, under StepContext::dedup_mutex: the first stored is the
// original.)
bool wait_for_earlier_proposals(const Step& step) {
  while (step.c.db->proposal_pending_before(step.row->id)) {
    if (step.c.cancel->load()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// Sets *earlier to the candidate whose source this one repeats, if any; false when cancelled while
// waiting. Asynchronous schedule: `lock` holds StepContext::dedup_mutex until the row is written.
bool find_source_duplicate(const Step& step, std::unique_lock<std::mutex>* lock, std::optional<int64_t>* earlier) {
  const StepContext& c = step.c;
  if (c.dedup_mutex) {
    *lock = std::unique_lock(*c.dedup_mutex);
    *earlier = c.db->find_by_hash_other(step.row->source_hash, step.row->id);
    return true;
  }
  if (!wait_for_earlier_proposals(step)) return false;
  *earlier = c.db->find_by_hash(step.row->source_hash, step.row->id);
  return true;
}

// selected -> proposed | duplicate | failed. A proposed row counts its first evaluation attempt in
// the same write, so a kill during the evaluation is visible.
std::optional<StepOutcome> propose_stage(Step& step) {
  const StepContext& c = step.c;
  CandidateRow* row = step.row;
  ProposalRequest request;
  bool use_tuner = false;
  if (Status s = build_request(c, *row, &request, &use_tuner); !s.ok()) return step.fail(s);
  Proposer* proposer = use_tuner && c.tuner ? c.tuner : c.proposer;
  const auto start = Clock::now();
  Proposal p = proposer->propose(request, *c.cancel);
  row->proposal_s = since(start);
  if (c.proposal_done) c.proposal_done();
  if (p.status == Proposal::Status::kCancelled || c.cancel->load()) return StepOutcome::kAbandoned;
  row->mutation = mutation_kind_name(p.kind);
  row->cost_usd += p.cost_usd;
  row->tokens_in += p.tokens_in;
  row->tokens_out += p.tokens_out;
  row->message = p.message;
  row->source = p.source;
  const auto check_start = Clock::now();
  const std::string outside = p.status == Proposal::Status::kOk ? check_outside_block(request.parent.source, p.source) : "";
  if (p.status != Proposal::Status::kOk || !outside.empty()) {
    row->status = CandidateStatus::kFailed;
    row->failure = proposal_failure(p, outside);
    if (!outside.empty()) row->message = outside;
    row->check_s = since(check_start);
    if (auto ended = step.commit(CandidateStatus::kSelected)) return ended;
    return StepOutcome::kDone;
  }
  row->source_hash = hex64(hash64(normalize_source(p.source)));
  std::unique_lock<std::mutex> dedup_lock;
  std::optional<int64_t> earlier;
  if (!find_source_duplicate(step, &dedup_lock, &earlier)) return StepOutcome::kAbandoned;
  if (earlier) {
    row->status = CandidateStatus::kDuplicate;
    row->duplicate_of = *earlier;
    row->message = "same normalized source as candidate " + std::to_string(*earlier) + " (" + row->message + ")";
  } else {
    row->status = CandidateStatus::kProposed;
    ++row->attempts;
  }
  row->check_s = since(check_start);
  if (auto ended = step.commit(CandidateStatus::kSelected)) return ended;
  if (row->status == CandidateStatus::kDuplicate) return StepOutcome::kDone;
  return std::nullopt;
}

// Adds the device that scored an evaluation to the row's list (first-use order, no repeats).
void note_device(const std::string& device, CandidateRow* row) {
  if (device.empty() || ("," + row->device + ",").find("," + device + ",") != std::string::npos) return;
  row->device += (row->device.empty() ? "" : ",") + device;
}

// One evaluation of the candidate: its timings go to the row; a cancel or a fault of the harness
// (not of the candidate) ends the step with that outcome.
std::optional<StepOutcome> evaluate_once(Step& step, Evaluator& evaluator, EvalResult* r) {
  Executor* executor = step.c.evaluators->executor;
  *r = executor ? executor->evaluate(evaluator, step.row->source, step.row->id, step.c.cancel)
                : evaluator.evaluate_source(step.row->source, step.c.cancel);
  if (r->status == EvalStatus::kCancelled || step.c.cancel->load()) return StepOutcome::kAbandoned;
  if (harness_fault(*r)) return step.fail(Status::Fault("candidate " + std::to_string(step.row->id) + ": " + r->message));
  step.row->compile_s += r->compile_s;
  step.row->worker_s += r->worker_s;
  step.row->metrics_s += r->metrics_s;
  note_device(r->device, step.row);
  return std::nullopt;
}

// After the candidate's first successful evaluation: stores its fingerprint (so later ids can
// compare against it), waits until every earlier candidate in flight has its own (so the verdict
// does not depend on timing), and marks the row a duplicate of the earliest id with the same one.
// Asynchronous schedule: no waiting (an earlier id may still be waiting for its proposal); the
// store and the lookup among all ids happen under one lock.
std::optional<StepOutcome> check_behavior(Step& step, const EvalResult& first) {
  CandidateRow* row = step.row;
  row->behavior_hash = first.fingerprint;
  std::optional<int64_t> earlier;
  if (step.c.dedup_mutex) {  // asynchronous: any other id, the first stored wins
    std::lock_guard lock(*step.c.dedup_mutex);
    if (auto ended = step.commit(CandidateStatus::kProposed)) return ended;
    earlier = step.c.db->find_by_behavior_other(row->behavior_hash, row->id);
  } else {
    if (auto ended = step.commit(CandidateStatus::kProposed)) return ended;
    while (step.c.db->behavior_pending_before(row->id)) {
      if (step.c.cancel->load()) return StepOutcome::kAbandoned;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    earlier = step.c.db->find_by_behavior(row->behavior_hash, row->id);
  }
  if (earlier) {
    row->status = CandidateStatus::kDuplicate;
    row->duplicate_of = *earlier;
    row->message = "same selections as candidate " + std::to_string(*earlier) +
                   " on every probe row (a behavioral duplicate; not evaluated further)" +
                   (row->message.empty() ? "" : " (" + row->message + ")");
  }
  return std::nullopt;
}

// The cascade's first stage: a failure, a behavioral duplicate or a score below the island's
// threshold ends the candidate (failed, duplicate or filtered) before the suite.
std::optional<StepOutcome> stage1(Step& step) {
  CandidateRow* row = step.row;
  EvalResult r;
  if (auto ended = evaluate_once(step, *step.c.evaluators->stage1, &r)) return ended;
  if (!r.ok()) {
    fail_with(r, row);
    return std::nullopt;
  }
  if (auto ended = check_behavior(step, r)) return ended;
  if (row->status != CandidateStatus::kProposed) return std::nullopt;
  row->stage1_score = r.metrics.score;
  if (row->stage1_threshold && r.metrics.score < *row->stage1_threshold) {
    row->status = CandidateStatus::kFiltered;
    row->failure = "stage1";
    row->message = fmt::format("stage-1 score {:.6f} on {} is below the island's threshold {:.6f}; not scored on the suite",
                               r.metrics.score, step.c.config->cascade_workload, *row->stage1_threshold) +
                   (row->message.empty() ? "" : " (" + row->message + ")");
  }
  return std::nullopt;
}

// Every setting of the suite, cheapest first, every seed; the first failure fails the candidate.
// Without a cascade, the first evaluation's fingerprint decides whether it is a duplicate.
std::optional<StepOutcome> evaluate_suite(Step& step, bool fingerprinted) {
  CandidateRow* row = step.row;
  RunEvaluators& evaluators = *step.c.evaluators;
  std::vector<SettingRun> runs(evaluators.settings.size());
  for (SettingEvaluators& setting : evaluators.settings) {
    SettingRun& run = runs[setting.suite_index];
    run.setting = setting.setting;
    for (auto& evaluator : setting.per_seed) {
      EvalResult r;
      if (auto ended = evaluate_once(step, *evaluator, &r)) return ended;
      if (!r.ok()) {
        fail_with(r, row);
        return std::nullopt;
      }
      if (!fingerprinted) {
        fingerprinted = true;
        if (auto ended = check_behavior(step, r)) return ended;
        if (row->status != CandidateStatus::kProposed) return std::nullopt;
      }
      run.seeds.push_back(evaluator->options().seed);
      run.results.push_back(std::move(r));
    }
  }
  const std::string proposal_message = row->message;
  store_suite_metrics(runs, step.c.config->track, row);
  row->message = proposal_message;
  return std::nullopt;
}

// proposed -> evaluated | failed | filtered | duplicate, in an evaluation slot when the schedule
// has them.
StepOutcome evaluate_stage(Step& step) {
  EvalSlotHold slot(step.c.eval_slots);
  if (!slot.acquire(*step.c.cancel)) return StepOutcome::kAbandoned;
  const bool cascade = step.c.evaluators->stage1 != nullptr;
  if (cascade)
    if (auto ended = stage1(step)) return *ended;
  if (step.row->status == CandidateStatus::kProposed)
    if (auto ended = evaluate_suite(step, cascade)) return *ended;
  step.row->finished_at = utc_now();
  if (auto ended = step.commit(CandidateStatus::kProposed)) return *ended;
  return StepOutcome::kDone;
}

}  // namespace

StepOutcome process_candidate(const StepContext& c, int64_t id, CandidateRow* row, Status* fault) {
  Step step{c, row, fault};
  if (Status s = c.db->get_candidate(id, row); !s.ok()) return step.fail(s);
  if (row->terminal()) return StepOutcome::kDone;
  if (row->status == CandidateStatus::kSelected) {
    if (auto ended = propose_stage(step)) return *ended;
  } else {
    // A proposed row redone by resume: the new evaluation attempt is written before it starts.
    ++row->attempts;
    if (auto ended = step.commit(CandidateStatus::kProposed)) return *ended;
  }
  return evaluate_stage(step);
}

}  // namespace adrs

#include "driver/run/candidate_step.h"

#include <chrono>
#include <cmath>
#include <optional>
#include <thread>

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

// Builds the proposer's request from the row's stored selection (parent, inspirations, attempts).
Status build_request(const StepContext& c, const CandidateRow& row, ProposalRequest* request) {
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
  if (!stored.is_object()) return Status::Error("candidate " + std::to_string(row.id) + " has a damaged request record");
  // A read that fails is a fault, never a smaller request: the proposal must be the one an
  // uninterrupted run makes.
  for (const auto& id : stored.value("inspirations", nlohmann::json::array())) {
    CandidateRow other;
    if (Status s = c.db->get_candidate(id.get<int64_t>(), &other); !s.ok()) return s;
    request->inspirations.push_back(view_of(other));
  }
  for (const auto& a : stored.value("attempts", nlohmann::json::array())) {
    AttemptView attempt;
    attempt.id = a.value("id", int64_t{0});
    parse_mutation_kind(a.value("kind", std::string("diff")), &attempt.kind);
    attempt.outcome = a.value("outcome", std::string());
    attempt.score = a.value("score", 0.0);
    request->recent_attempts.push_back(attempt);
  }
  if (stored.contains("fix_up_of")) {
    CandidateRow failed;
    if (Status s = c.db->get_candidate(stored["fix_up_of"].get<int64_t>(), &failed); !s.ok()) return s;
    {
      request->failed_source = failed.source;
      request->failure_feedback = failed.failure + ": " + failed.message;
      if (!failed.compile_log.empty()) request->failure_feedback += "\ncompiler output:\n" + trim_compiler_log(failed.compile_log, 30);
    }
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
  row->status = "failed";
  row->failure = status_name(r.status);
  row->message = r.message;
  row->compile_log = r.compile_log;
}

// One evaluation of the candidate: its timings go to the row; a cancel or a fault of the
// harness (not of the candidate) ends the step with that outcome.
std::optional<StepOutcome> evaluate_once(const StepContext& c, int64_t id, Evaluator& evaluator, CandidateRow* row, EvalResult* r,
                                         Status* fault) {
  *r = evaluator.evaluate_source(row->source, c.cancel);
  if (r->status == EvalStatus::kCancelled || c.cancel->load()) return StepOutcome::kAbandoned;
  if (harness_fault(*r)) {
    *fault = Status::Error("candidate " + std::to_string(id) + ": " + r->message);
    return StepOutcome::kFault;
  }
  row->compile_s += r->compile_s;
  row->worker_s += r->worker_s;
  row->metrics_s += r->metrics_s;
  return std::nullopt;
}

// After the candidate's first successful evaluation: stores its fingerprint (so later ids can
// compare against it), waits until every earlier candidate in flight has its own (so the verdict
// does not depend on timing), and marks the row a duplicate of the earliest id with the same one.
std::optional<StepOutcome> check_behavior(const StepContext& c, const EvalResult& first, CandidateRow* row, Status* fault) {
  row->behavior_hash = first.fingerprint;
  if (Status s = timed_update(*c.db, row); !s.ok()) {
    *fault = s;
    return StepOutcome::kFault;
  }
  while (c.db->behavior_pending_before(row->id)) {
    if (c.cancel->load()) return StepOutcome::kAbandoned;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (auto earlier = c.db->find_by_behavior(row->behavior_hash, row->id)) {
    row->status = "duplicate";
    row->duplicate_of = *earlier;
    row->message = "same selections as candidate " + std::to_string(*earlier) +
                   " on every probe row (a behavioral duplicate; not evaluated further)" +
                   (row->message.empty() ? "" : " (" + row->message + ")");
  }
  return std::nullopt;
}

// The cascade's stage 1: fails or filters the row, or leaves it "proposed".
std::optional<StepOutcome> run_stage1(const StepContext& c, int64_t id, CandidateRow* row, Status* fault) {
  EvalResult r;
  if (auto ended = evaluate_once(c, id, *c.evaluators->stage1, row, &r, fault)) return ended;
  if (!r.ok()) {
    fail_with(r, row);
    return std::nullopt;
  }
  if (auto ended = check_behavior(c, r, row, fault)) return ended;
  if (row->status != "proposed") return std::nullopt;
  row->stage1_score = r.metrics.score;
  if (row->stage1_threshold && r.metrics.score < *row->stage1_threshold) {
    row->status = "filtered";
    row->failure = "stage1";
    char text[200];
    std::snprintf(text, sizeof text, "stage-1 score %.6f on %s is below the island's threshold %.6f; not scored on the suite",
                  r.metrics.score, c.config->cascade_workload.c_str(), *row->stage1_threshold);
    row->message = text + std::string(row->message.empty() ? "" : " (" + row->message + ")");
  }
  return std::nullopt;
}

// Stage 1 (with a cascade), then every setting of the suite, cheapest first, every seed.
std::optional<StepOutcome> evaluate_candidate(const StepContext& c, int64_t id, CandidateRow* row, Status* fault) {
  RunEvaluators& evaluators = *c.evaluators;
  bool fingerprinted = false;
  if (evaluators.stage1) {
    if (auto ended = run_stage1(c, id, row, fault)) return ended;
    fingerprinted = true;
  }
  std::vector<SettingRun> runs(evaluators.settings.size());
  for (SettingEvaluators& setting : evaluators.settings) {
    if (row->status != "proposed") return std::nullopt;
    SettingRun& run = runs[setting.suite_index];
    run.setting = setting.setting;
    for (auto& evaluator : setting.per_seed) {
      EvalResult r;
      if (auto ended = evaluate_once(c, id, *evaluator, row, &r, fault)) return ended;
      if (!r.ok()) {
        fail_with(r, row);
        return std::nullopt;
      }
      if (!fingerprinted) {
        fingerprinted = true;
        if (auto ended = check_behavior(c, r, row, fault)) return ended;
        if (row->status != "proposed") return std::nullopt;
      }
      run.seeds.push_back(evaluator->options().seed);
      run.results.push_back(std::move(r));
    }
  }
  const std::string proposal_message = row->message;
  store_suite_metrics(runs, c.config->track, row);
  row->message = proposal_message;
  return std::nullopt;
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

StepOutcome process_candidate(const StepContext& c, int64_t id, CandidateRow* row, Status* fault) {
  if (Status s = c.db->get_candidate(id, row); !s.ok()) {
    *fault = s;
    return StepOutcome::kFault;
  }
  if (row->terminal()) return StepOutcome::kDone;
  if (row->status == "selected") {
    ProposalRequest request;
    if (Status s = build_request(c, *row, &request); !s.ok()) {
      *fault = s;
      return StepOutcome::kFault;
    }
    const nlohmann::json stored = nlohmann::json::parse(row->request_json.empty() ? "{}" : row->request_json, nullptr, false);
    Proposer* proposer = stored.is_object() && stored.value("use_tuner", false) && c.tuner ? c.tuner : c.proposer;
    const auto start = Clock::now();
    Proposal p = proposer->propose(request, *c.cancel);
    row->proposal_s = since(start);
    if (p.status == Proposal::Status::kCancelled || c.cancel->load()) return StepOutcome::kAbandoned;
    row->mutation = mutation_kind_name(p.kind);
    row->cost_usd += p.cost_usd;
    row->tokens_in += p.tokens_in;
    row->tokens_out += p.tokens_out;
    row->message = p.message;
    const auto check_start = Clock::now();
    std::string outside;
    if (p.status == Proposal::Status::kOk) outside = check_outside_block(request.parent.source, p.source);
    if (p.status != Proposal::Status::kOk || !outside.empty()) {
      row->status = "failed";
      row->failure = p.status == Proposal::Status::kPatchError ? std::string("patch:") + patch_error_name(p.patch_error)
                     : outside.empty()                        ? "proposer_error"
                                                              : "patch:outside_block";
      if (!outside.empty()) row->message = outside;
      row->source = p.source;
      row->check_s = since(check_start);
      if (Status s = timed_update(*c.db, row); !s.ok()) {
        *fault = s;
        return StepOutcome::kFault;
      }
      return StepOutcome::kDone;
    }
    row->source = p.source;
    row->source_hash = hex64(hash64(normalize_source(p.source)));
    // Whether this is a duplicate must not depend on timing: every earlier candidate's proposal
    // (in flight beside this one) is known before the lookup, so a run and its resume agree.
    while (c.db->proposal_pending_before(row->id)) {
      if (c.cancel->load()) return StepOutcome::kAbandoned;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (auto earlier = c.db->find_by_hash(row->source_hash, row->id)) {
      row->status = "duplicate";
      row->duplicate_of = *earlier;
      row->message = "same normalized source as candidate " + std::to_string(*earlier) + " (" + row->message + ")";
    } else {
      row->status = "proposed";
    }
    row->check_s = since(check_start);
    if (Status s = timed_update(*c.db, row); !s.ok()) {
      *fault = s;
      return StepOutcome::kFault;
    }
    if (row->status == "duplicate") return StepOutcome::kDone;
  }
  // status "proposed": compile and evaluate. The attempt counter is written first, so a kill during
  // evaluation is visible (resume redoes the evaluation; the row still gets one result).
  ++row->attempts;
  if (Status s = timed_update(*c.db, row); !s.ok()) {
    *fault = s;
    return StepOutcome::kFault;
  }
  if (auto ended = evaluate_candidate(c, id, row, fault)) return *ended;
  row->finished_at = utc_now();
  if (Status s = timed_update(*c.db, row); !s.ok()) {
    *fault = s;
    return StepOutcome::kFault;
  }
  return StepOutcome::kDone;
}

}  // namespace adrs

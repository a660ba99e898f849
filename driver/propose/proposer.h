// Proposer: what makes new candidates. The run loop asks, a proposer answers; the loop then checks,
// deduplicates, compiles, evaluates and stores. Two implementations: the offline proposer
// (driver/propose/offline_proposer.h: constant tuning and a building-block library, no network) and the
// LLM proposer (driver/llm_*.h).
//
// Contract
// - propose() is called from several loop threads at once (--parallel N): it must be thread-safe
//   and must not touch the run database except through RunDb's thread-safe methods
//   (RunDb::record_llm_call).
// - It returns the candidate's whole new source. Only the EVOLVE block may differ from the
//   parent's; the loop re-checks this and rejects anything else (status failed, reason
//   "patch:outside_block"). A proposer that cannot produce a source sets `patch_error` (and a
//   `message` for the user and for fix-up prompts) instead of throwing.
// - It must honour `cancel`: when it becomes true, return promptly with status kCancelled (an HTTP
//   call is aborted; nothing is retried). The loop then leaves the candidate for resume to redo.
// - Determinism: everything random comes from `request.seed` (a function of the run seed and the
//   candidate id), so a resumed run proposes exactly what an uninterrupted one would when the
//   proposer itself is deterministic (the offline one is; an LLM is not).
// - Cost accounting: `cost_usd`, `tokens_in`, `tokens_out` are summed by the loop against the
//   run's max_cost stop condition. Never put an API key in any field.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "driver/patch/patch.h"

namespace adrs {

// How the child relates to its parent(s). Stored in the run database by name.
enum class MutationKind {
  kSeed,         // the starting masker (no parent)
  kDiff,         // small edits: SEARCH/REPLACE blocks (LLM) or constant tuning (offline)
  kFullRewrite,  // a new EVOLVE block body (LLM) or a structural edit (offline)
  kCrossover,    // combines the parent with an inspiration
  kFixUp,        // repairs a failed child of the parent, given the failure feedback
};
const char* mutation_kind_name(MutationKind kind);
// Parses a name made by mutation_kind_name(); false when unknown.
bool parse_mutation_kind(const std::string& name, MutationKind* kind);

// A stored candidate as a proposer sees it.
struct CandidateView {
  int64_t id = 0;
  std::string source;
  double score = 0.0;    // mean over evaluation seeds
  double error = 0.0;
  double density = 0.0;
  std::string metrics_json;  // full metrics incl. diagnostics (entropy buckets, percentiles)
};

// A recent child of the same parent and how it ended ("ok score -0.12", "compile_error: ...").
struct AttemptView {
  int64_t id = 0;
  MutationKind kind = MutationKind::kDiff;
  std::string outcome;
  double score = 0.0;  // meaningful when outcome starts with "ok"
};

struct ProposalRequest {
  int64_t candidate_id = 0;  // the id the proposal will be stored under
  uint64_t seed = 0;         // all randomness of the proposal derives from this
  MutationKind kind = MutationKind::kDiff;
  CandidateView parent;
  std::vector<CandidateView> inspirations;  // top and diverse candidates (crossover uses [0])
  std::vector<AttemptView> recent_attempts;
  // Fix-up only: the failed child's source and why it failed (compiler log, evaluator message).
  std::string failed_source;
  std::string failure_feedback;
  double target_density = 0.10;
  std::string workload;
  std::string hint;  // the researcher's note for this candidate (driver/run/run_hints.h); "" : none
};

struct Proposal {
  enum class Status { kOk, kPatchError, kProposerError, kCancelled };
  Status status = Status::kProposerError;
  std::string source;           // the whole new candidate source when status is kOk
  PatchError patch_error = PatchError::kNone;
  std::string message;          // why it failed; what the change was when ok ("tune 0.045 -> 0.05")
  MutationKind kind = MutationKind::kDiff;  // what was actually done (may differ from the request)
  std::string raw_answer;       // the LLM's answer text ("" offline)
  std::string model;            // "offline" for the offline proposer
  int64_t tokens_in = 0, tokens_out = 0;
  double cost_usd = 0.0;
  double latency_s = 0.0;
};

class Proposer {
 public:
  virtual ~Proposer() = default;
  virtual Proposal propose(const ProposalRequest& request, const std::atomic<bool>& cancel) = 0;
  // Short description for logs and `adrs status` ("offline (constant tuning + building blocks)").
  virtual std::string describe() const = 0;
  // Whether fix-up requests make sense (an LLM can repair a compile error; the offline one cannot).
  virtual bool supports_fix_up() const { return false; }
  // True once the proposer's own spending limit (llm.max_cost_usd) is reached: the loop then
  // issues no new candidate and stops with reason max_cost once in-flight work ends.
  virtual bool budget_exhausted() const { return false; }
};

}  // namespace adrs

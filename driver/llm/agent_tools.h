// The agent proposer's tools: read(path), evaluate(source | edits, setting?), submit(source |
// edits, note). Names and JSON schemas are documented in docs/LLM.md ("The agent proposer").
//
// Safety contract
// - read() serves an allow list fixed when the proposal starts (AgentFiles): a path is a key of that
//   map, compared byte for byte, never opened as a file name. So "../", absolute paths and links
//   cannot reach anything else: any other path is an error to the model naming the readable paths.
//   Shipped files of the list are read by the trusted side from data_dir() (never writable by
//   candidate code), with O_NOFOLLOW, regular files only, size-capped; links are left out.
// - Every argument is validated (JSON object, known keys, strings, sizes capped) before anything runs;
//   a broken call is an error to the model, never a crash or a failed candidate by itself.
// - Drafts run through AgentWorkspace::evaluate_draft: the run's own evaluator, so the same
//   compiler jail and worker sandbox as candidates. Tool results hold sources, metrics, compiler
//   output and shipped docs only: nothing from the environment.
#pragma once

#include <atomic>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "driver/llm/agent_config.h"
#include "driver/llm/agent_protocol.h"
#include "driver/propose/proposer.h"
#include "driver/run/run_db.h"
#include "evaluator/evaluator.h"

namespace adrs {

inline constexpr size_t kAgentMaxArgumentBytes = 256 * 1024;  // a tool call's argument text
inline constexpr size_t kAgentMaxDraftBytes = 64 * 1024;      // a draft's source or edits
inline constexpr size_t kAgentMaxReadBytes = 48 * 1024;       // what one read() returns
inline constexpr size_t kAgentMaxNoteBytes = 2000;            // submit's note
inline constexpr size_t kAgentMaxPathBytes = 200;

// What the tools act on: the run (or a test's stand-in). Thread-safe: proposals run in parallel.
class AgentWorkspace {
 public:
  virtual ~AgentWorkspace() = default;
  // Names of the settings a draft may be scored on; the first is the default.
  virtual std::vector<std::string> draft_settings() const = 0;
  // Compiles and scores a draft on `setting` (one of draft_settings()) in the run's sandbox.
  virtual EvalResult evaluate_draft(const std::string& source, const std::string& setting, const std::atomic<bool>& cancel) = 0;
  // Takes one evaluation from the run-wide draft budget; false (and why) when it is spent.
  virtual bool claim_draft_evaluation(std::string* why_not) = 0;
  // The run's recent failures before `candidate_id` with their messages (text for read()).
  virtual std::string recent_failures(int64_t candidate_id) = 0;
  // The number of this proposal of `candidate_id` (1 + the proposals stored before it).
  virtual int begin_proposal(int64_t candidate_id) = 0;
  virtual void record_turn(const AgentTurnRecord& turn) = 0;
  // The folder holding masker_template/ and docs/ (util/resources.h data_dir()).
  virtual std::string shipped_dir() const = 0;
};

// The readable files of one proposal: path -> content.
using AgentFiles = std::map<std::string, std::string>;
AgentFiles collect_agent_files(const ProposalRequest& request, AgentWorkspace& workspace);

// The tool specs given to the model (draft settings listed in evaluate's schema).
std::vector<agent_protocol::ToolSpec> agent_tool_specs(const std::vector<std::string>& settings);

struct DraftRecord {
  std::string source, setting;
  EvalStatus status = EvalStatus::kInternalError;
  double score = 0.0;
};

struct ToolOutcome {
  agent_protocol::ToolResult result;
  bool submitted = false;  // a valid submit: `source` is the candidate
  std::string source, note;
  bool draft_evaluated = false;
};

// One proposal's tools. Not thread-safe (one proposal, one thread).
class AgentToolbox {
 public:
  AgentToolbox(const ProposalRequest& request, AgentFiles files, AgentWorkspace* workspace, const AgentConfig& config);
  ToolOutcome run(const LlmToolCall& call, const std::atomic<bool>& cancel);

  int draft_evals() const { return draft_evals_; }
  // The best-scoring draft that differs from the parent and scored ok; null when none.
  const DraftRecord* best_draft() const;
  const std::vector<std::string>& paths() const { return paths_; }

 private:
  std::string read(const nlohmann::json& args, bool* is_error) const;
  std::string evaluate(const nlohmann::json& args, const std::atomic<bool>& cancel, bool* is_error, bool* ran);
  std::string submit(const nlohmann::json& args, ToolOutcome* outcome, bool* is_error);
  // The draft named by args (source or edits, applied to the parent); "" and *error when invalid.
  bool draft_of(const nlohmann::json& args, bool allow_unchanged, std::string* source, std::string* error) const;

  const ProposalRequest& request_;
  AgentFiles files_;
  std::vector<std::string> paths_;
  AgentWorkspace* workspace_;
  AgentConfig config_;
  std::vector<std::string> settings_;
  int draft_evals_ = 0;
  std::vector<DraftRecord> drafts_;
};

// The text the model gets for a draft's evaluation (status, metrics, diagnostics, compiler errors).
std::string describe_draft_result(const EvalResult& result, const std::string& setting, int evals_left);

}  // namespace adrs

// make_agent_proposer: the agent proposer wired to a run: drafts scored by evaluators built like
// the run's own (same sandbox, same cache), turns and draft counts stored in the run database.
#include <spdlog/spdlog.h>

#include <filesystem>
#include <map>

#include "driver/llm/agent_proposer.h"
#include "driver/run/run_config.h"
#include "evaluator/compiler.h"
#include "util/resources.h"

namespace adrs {
namespace {

class RunWorkspace : public AgentWorkspace {
 public:
  RunWorkspace(const RunConfig& config, const AgentConfig& agent, RunDb* db) : config_(config), agent_(agent), db_(db) {
    settings_.push_back(agent.draft_setting.empty() ? config.cascade_workload : agent.draft_setting);
    if (config.workload != settings_.front()) settings_.push_back(config.workload);
    if (db_ != nullptr && !db_->count_draft_evaluations(&used_).ok()) used_ = 0;
  }

  std::vector<std::string> draft_settings() const override { return settings_; }

  EvalResult evaluate_draft(const std::string& source, const std::string& setting, const std::atomic<bool>& cancel) override {
    Evaluator* evaluator = nullptr;
    if (Status s = evaluator_for(setting, &evaluator); !s.ok()) {
      EvalResult r;
      r.status = EvalStatus::kInternalError;
      r.message = s.message();
      return r;
    }
    return evaluator->evaluate_source(source, &cancel);
  }

  bool claim_draft_evaluation(std::string* why_not) override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (agent_.max_draft_evals_total > 0 && used_ >= agent_.max_draft_evals_total) {
      *why_not = "the run's draft-evaluation budget is spent (max_draft_evals_total = " + std::to_string(agent_.max_draft_evals_total) + ")";
      return false;
    }
    ++used_;
    return true;
  }

  std::string recent_failures(int64_t candidate_id) override;

  int begin_proposal(int64_t candidate_id) override {
    int last = 0;
    if (db_ != nullptr && !db_->last_agent_proposal(candidate_id, &last).ok()) last = 0;
    return last + 1;
  }

  void record_turn(const AgentTurnRecord& turn) override {
    if (db_ == nullptr) return;
    // A transcript that cannot be written must not lose the proposal; the next write reports the disk.
    if (Status s = db_->record_agent_turn(turn); !s.ok()) spdlog::warn("agent transcript of candidate {}: {}", turn.candidate_id, s.message());
  }

  std::string shipped_dir() const override { return data_dir(); }

 private:
  Status evaluator_for(const std::string& setting, Evaluator** out) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto& slot = evaluators_[setting];
    if (!slot) {
      EvalOptions o;
      o.workload = setting;
      o.target_density = config_.target_density;
      o.seed = config_.eval_seed;
      o.timeout_s = config_.timeout_s;
      o.compile_timeout_s = config_.compile_timeout_s;
      o.threads = config_.eval_threads;
      o.memory_mb = config_.memory_mb;
      o.device = config_.device == "cpu" ? Device::kCpu : config_.device == "cuda" ? Device::kCuda : Device::kAuto;
      o.cache_dir = !config_.cache_dir.empty() ? config_.cache_dir
                    : db_ != nullptr           ? (std::filesystem::path(db_->path()).parent_path() / "cache").string()
                                               : "";
      if (Status s = Evaluator::Create(o, &slot); !s.ok()) return Status::Error("draft setting " + setting + ": " + s.message());
    }
    *out = slot.get();
    return Status::Ok();
  }

  RunConfig config_;
  AgentConfig agent_;
  RunDb* db_;
  std::vector<std::string> settings_;
  std::mutex mutex_;
  int64_t used_ = 0;
  std::map<std::string, std::unique_ptr<Evaluator>> evaluators_;
};

// Up to 8 failed candidates before `candidate_id`, newest first, looking back at most 64 ids.
std::string RunWorkspace::recent_failures(int64_t candidate_id) {
  if (db_ == nullptr) return "";
  std::string text;
  int found = 0;
  for (int64_t id = candidate_id - 1; id >= 1 && id >= candidate_id - 64 && found < 8; --id) {
    CandidateRow row;
    if (!db_->get_candidate(id, &row).ok() || row.status != CandidateStatus::kFailed) continue;
    ++found;
    text += "candidate #" + std::to_string(row.id) + " (" + row.mutation + "): " + row.failure + ": " + row.message.substr(0, 600) + "\n";
    if (!row.compile_log.empty()) text += trim_compiler_log(row.compile_log, 15) + "\n";
    text += "\n";
  }
  return text;
}

}  // namespace

Status make_agent_proposer(const RunConfig& config, RunDb* db, std::unique_ptr<Proposer>* out) {
  LlmConfig llm;
  AgentConfig agent;
  if (Status s = parse_agent_llm_config(config.llm, &llm, &agent); !s.ok()) return s;
  LlmCallSink sink;
  if (db != nullptr) sink = [db](const LlmCallRecord& call) { (void)db->record_llm_call(call); };
  std::unique_ptr<AgentProposer> proposer;
  if (Status s = AgentProposer::Create(llm, agent, std::make_shared<RunWorkspace>(config, agent, db), std::move(sink), &proposer); !s.ok())
    return s;
  *out = std::move(proposer);
  return Status::Ok();
}

}  // namespace adrs

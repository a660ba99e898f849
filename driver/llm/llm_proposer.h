// LlmProposer: the Proposer that asks an LLM (a weighted ensemble of models, see llm_config.h)
// for a new masker and applies its answer with driver/patch/patch.h.
//
// Contract (beyond proposer.h)
// - Every HTTP attempt is recorded with RunDb::record_llm_call (model, tokens, cost, latency,
//   status, prompt, response); never the key.
// - max_cost_usd: a request starts only when spent + the estimated cost of the requests in flight
//   + its own estimate stays within the limit; otherwise propose() fails at once with
//   budget_exhausted() true and costs nothing. The overshoot is at most one request's estimation
//   error.
// - A truncated answer (finish_reason length) is stored in raw_answer and never applied
//   (patch_error kTruncated).
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "driver/llm/llm_client.h"
#include "driver/llm/llm_config.h"
#include "driver/propose/proposer.h"
#include "driver/run/run_db.h"

namespace adrs {

// Receives one record per HTTP attempt (the run loop stores it with RunDb::record_llm_call).
// Called from the proposing thread; must be thread-safe.
using LlmCallSink = std::function<void(const LlmCallRecord&)>;

class LlmProposer : public Proposer {
 public:
  // `sink` may be empty (no call records). Fails when a prompt template cannot be rendered.
  static Status Create(const LlmConfig& config, LlmCallSink sink, std::unique_ptr<LlmProposer>* out);

  Proposal propose(const ProposalRequest& request, const std::atomic<bool>& cancel) override;
  std::string describe() const override;
  bool supports_fix_up() const override { return true; }

  double spent_usd() const;
  bool budget_exhausted() const override;
  // Bandit feedback: whether the candidate proposed under `candidate_id` beat its parent. (The
  // proposer also learns it from the recent attempts shown in later requests.)
  void record_outcome(int64_t candidate_id, bool improved);

 private:
  LlmProposer(LlmConfig config, LlmCallSink sink);
  size_t choose_model(std::mt19937_64& rng);
  void learn_from(const ProposalRequest& request);
  void record(const ProposalRequest& request, const LlmModelConfig& model, const LlmRequest& prompt,
              const LlmResponse& response);
  // Reserves the call's estimated cost against max_cost_usd; false (and why) when it would pass it.
  bool reserve_budget(const LlmModelConfig& model, size_t index, int64_t prompt_tokens, double* estimate, std::string* why);
  // Replaces the reservation by the call's real cost and learns the answer's length.
  void settle(size_t index, double estimate, double cost, const LlmResponse& response, int64_t candidate_id);

  struct ModelStats {
    int calls = 0;
    int improvements = 0;
    double cost = 0.0;
  };

  LlmConfig config_;
  LlmCallSink sink_;
  LlmClient client_;
  mutable std::mutex mutex_;
  double spent_ = 0.0, reserved_ = 0.0;
  double mean_tokens_out_ = 0.0;  // observed, for cost estimates
  int answers_ = 0;
  bool exhausted_ = false;
  std::vector<ModelStats> stats_;
  std::unordered_map<int64_t, size_t> model_of_candidate_;
};

// Builds the LLM proposer from the run config's [llm] table (as JSON), recording every call in
// `db` (may be null). Defined in llm_proposer_factory.cc.
Status make_llm_proposer(const nlohmann::json& llm, RunDb* db, std::unique_ptr<Proposer>* out);

// The answer without <think>...</think> sections (reasoning models served by vLLM or Ollama put
// their thoughts into the content).
std::string strip_thinking(const std::string& answer);

}  // namespace adrs

// AgentProposer: the Proposer for proposer = "agent". Instead of one prompt and one answer, the
// model works over several turns with tools (driver/llm/agent_tools.h): it reads the allow-listed
// files, evaluates drafts in the sandbox on a cheap setting, reads the numbers and compiler errors,
// and submits. Native tool calling of OpenAI Chat Completions and Anthropic Messages
// (driver/llm/agent_protocol.h) through LlmClient, with its retries.
//
// Contract (beyond proposer.h)
// - Limits per proposal (AgentConfig): model turns, draft evaluations, tokens, wall time. Reaching
//   one ends the proposal with the best evaluated draft (a candidate like any other) or, when no
//   draft scored, a failed proposal whose message names the limit. So does the LLM budget
//   (max_cost_usd, reserved per turn as LlmProposer does) and the run's draft budget.
// - Every turn (the messages it added, the answer, each tool call and its result) is stored through
//   AgentWorkspace::record_turn, and one "end" record says how the proposal ended; every HTTP
//   attempt is also an llm_calls row. Never an API key.
// - Drafts are never candidates: only the submitted source (or the best draft at a limit) is
//   returned. A cancel (Ctrl-C, kill) abandons the conversation; resume redoes the whole proposal
//   (its turns are stored as proposal 2, 3, ... of the candidate).
#pragma once

#include <memory>
#include <mutex>

#include "driver/llm/agent_config.h"
#include "driver/llm/agent_tools.h"
#include "driver/llm/llm_client.h"
#include "driver/llm/llm_proposer.h"

namespace adrs {

class AgentProposer : public Proposer {
 public:
  // Fails when the prompt templates cannot be rendered or no model is configured.
  static Status Create(const LlmConfig& llm, const AgentConfig& agent, std::shared_ptr<AgentWorkspace> workspace,
                       LlmCallSink sink, std::unique_ptr<AgentProposer>* out);

  Proposal propose(const ProposalRequest& request, const std::atomic<bool>& cancel) override;
  std::string describe() const override;
  bool supports_fix_up() const override { return true; }
  bool budget_exhausted() const override;
  double spent_usd() const;

 private:
  struct Session;
  AgentProposer(LlmConfig llm, AgentConfig agent, std::shared_ptr<AgentWorkspace> workspace, LlmCallSink sink);
  Status first_prompt(const ProposalRequest& request, LlmRequest* prompt) const;
  bool reserve(Session& s, double* estimate, std::string* why_not);
  void settle(Session& s, double estimate, const LlmResponse& response);
  bool call_model(Session& s, LlmResponse* response);
  bool run_tools(Session& s, LlmResponse& response, Proposal* done);
  Proposal finish(Session& s, const std::string& limit);
  void record_calls(Session& s, const std::string& prompt, const LlmResponse& response);
  void record_end(Session& s, const Proposal& p);

  LlmConfig llm_;
  AgentConfig agent_;
  std::shared_ptr<AgentWorkspace> workspace_;
  LlmCallSink sink_;
  LlmClient client_;
  mutable std::mutex mutex_;
  double spent_ = 0.0, reserved_ = 0.0, mean_tokens_out_ = 0.0;
  int answers_ = 0;
  bool exhausted_ = false;
};

// Builds the agent proposer of a run: [llm] and [llm.agent] from config.llm, drafts scored by the
// run's own evaluator settings, turns stored in `db`. Defined in agent_proposer_factory.cc.
struct RunConfig;
Status make_agent_proposer(const RunConfig& config, RunDb* db, std::unique_ptr<Proposer>* out);

}  // namespace adrs

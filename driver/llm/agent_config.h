// AgentConfig: the [llm.agent] table of a run config, read when [proposer] proposer = "agent"
// (docs/LLM.md, "The agent proposer"). The models, prices, retries and max_cost_usd stay in [llm].
//
//   [llm.agent]
//   max_turns = 12              # model calls per proposal
//   max_draft_evals = 4         # evaluate() calls per proposal
//   max_tokens = 200000         # tokens in + out per proposal
//   max_wall_s = 600            # seconds per proposal
//   max_draft_evals_total = 0   # draft evaluations for the whole run (0: no run-wide limit)
//   draft_setting = ""          # workload drafts are scored on ("": the cascade's first stage)
//
// Each limit ends the proposal with the best draft evaluated so far, or a failed proposal naming
// the limit when no draft scored.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "driver/llm/llm_config.h"
#include "util/status.h"

namespace adrs {

struct AgentConfig {
  int max_turns = 12;
  int max_draft_evals = 4;
  int64_t max_tokens = 200000;
  double max_wall_s = 600.0;
  int64_t max_draft_evals_total = 0;  // 0: no run-wide limit
  std::string draft_setting;          // "": the cascade's first stage (evaluation.cascade_workload)
};

// Reads [llm.agent] (absent: the defaults). Unknown keys and values out of range are errors
// naming the key and its range.
Status parse_agent_config(const nlohmann::json& agent, AgentConfig* config);

// Splits a run config's [llm] table into the LLM part (models, prices, max_cost_usd) and the
// agent's limits.
Status parse_agent_llm_config(const nlohmann::json& llm, LlmConfig* llm_config, AgentConfig* agent_config);

}  // namespace adrs

// The agent proposer's transcript of one candidate (RunDb agent_turns), for `adrs show
// --transcript`: as JSON (everything stored) or as text (each turn: what was sent, what the model
// answered, each tool call and its result, long texts cut to a screenful).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "driver/run/run_db.h"

namespace adrs {

nlohmann::json transcript_json(const std::vector<AgentTurnRecord>& turns);
std::string transcript_text(const std::vector<AgentTurnRecord>& turns, bool with_system_prompt);
// "agent: 2 proposals, 6 turns, 3 draft evaluations" ("" when there are no turns).
std::string transcript_summary(const std::vector<AgentTurnRecord>& turns);

}  // namespace adrs

#include "driver/llm/agent_config.h"

#include <set>

namespace adrs {
namespace {

Status bad(const std::string& what) { return Status::Error("[llm.agent] " + what); }

// An integer key in [low, high]; absent keeps the default.
template <typename T>
Status integer(const nlohmann::json& j, const char* key, int64_t low, int64_t high, T* out) {
  if (!j.contains(key)) return Status::Ok();
  if (!j[key].is_number_integer() || j[key].get<int64_t>() < low || j[key].get<int64_t>() > high)
    return bad(std::string(key) + " must be an integer in [" + std::to_string(low) + ", " + std::to_string(high) + "]");
  *out = static_cast<T>(j[key].get<int64_t>());
  return Status::Ok();
}

}  // namespace

Status parse_agent_config(const nlohmann::json& agent, AgentConfig* config) {
  *config = AgentConfig{};
  if (agent.is_null()) return Status::Ok();
  if (!agent.is_object()) return bad("must be a table");
  static const std::set<std::string> keys = {"max_turns", "max_draft_evals", "max_tokens", "max_wall_s",
                                             "max_draft_evals_total", "draft_setting"};
  for (const auto& [key, value] : agent.items())
    if (!keys.count(key))
      return bad("unknown key " + key + "; keys: max_turns, max_draft_evals, max_tokens, max_wall_s, "
                 "max_draft_evals_total, draft_setting");
  if (Status s = integer(agent, "max_turns", 1, 200, &config->max_turns); !s.ok()) return s;
  if (Status s = integer(agent, "max_draft_evals", 0, 100, &config->max_draft_evals); !s.ok()) return s;
  if (Status s = integer(agent, "max_tokens", 1000, 100000000, &config->max_tokens); !s.ok()) return s;
  if (Status s = integer(agent, "max_draft_evals_total", 0, 1000000000, &config->max_draft_evals_total); !s.ok()) return s;
  if (agent.contains("max_wall_s")) {
    if (!agent["max_wall_s"].is_number() || !(agent["max_wall_s"].get<double>() > 0) || agent["max_wall_s"].get<double>() > 86400)
      return bad("max_wall_s must be a number of seconds in (0, 86400]");
    config->max_wall_s = agent["max_wall_s"].get<double>();
  }
  if (agent.contains("draft_setting")) {
    if (!agent["draft_setting"].is_string()) return bad("draft_setting must be a workload name (\"smoke\", ...) or \"\"");
    config->draft_setting = agent["draft_setting"].get<std::string>();
  }
  return Status::Ok();
}

Status parse_agent_llm_config(const nlohmann::json& llm, LlmConfig* llm_config, AgentConfig* agent_config) {
  if (!llm.is_object() || llm.empty())
    return Status::Error("proposer = \"agent\" needs an [llm] table with at least one [[llm.models]] (docs/LLM.md)");
  nlohmann::json rest = llm;
  nlohmann::json agent;
  if (rest.contains("agent")) {
    agent = rest["agent"];
    rest.erase("agent");
  }
  if (Status s = parse_agent_config(agent, agent_config); !s.ok()) return s;
  return parse_llm_config(rest, llm_config);
}

}  // namespace adrs

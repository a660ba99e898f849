#include "driver/cli/transcript.h"

#include <algorithm>
#include <cstdio>
#include <set>

#include <fmt/format.h>

namespace adrs {
namespace {

nlohmann::json parsed(const std::string& text) {
  const nlohmann::json j = nlohmann::json::parse(text.empty() ? "null" : text, nullptr, false);
  return j.is_discarded() ? nlohmann::json(text) : j;
}

// At most `max_lines` lines of `text`, then how many were left out.
std::string screenful(const std::string& text, int max_lines) {
  int lines = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\n' || ++lines < max_lines || i + 1 >= text.size()) continue;
    const auto rest = std::count(text.begin() + static_cast<std::ptrdiff_t>(i) + 1, text.end(), '\n') + (text.back() != '\n');
    return text.substr(0, i + 1) + "    [... " + std::to_string(rest) + " more lines: --json prints everything]\n";
  }
  return text;
}

std::string content_text(const nlohmann::json& content) {
  if (content.is_string()) return content.get<std::string>();
  std::string out;
  if (content.is_array())
    for (const auto& b : content) {
      if (!b.is_object()) continue;
      const std::string type = b.value("type", "");
      if (type == "text") out += b.value("text", "") + "\n";
      else if (type == "tool_result") out += "(tool result for " + b.value("tool_use_id", "") + ", shown below that turn)\n";
    }
  return out;
}

std::string sent_text(const nlohmann::json& request, bool with_system_prompt) {
  std::string out;
  if (!request.is_array()) return out;
  for (const auto& m : request) {
    const std::string role = m.value("role", "");
    if (role == "tool") continue;  // printed with the turn that made the call
    if (role == "system" && !with_system_prompt) {
      out += "[system] (" + std::to_string(content_text(m["content"]).size()) + " characters; --prompt prints it)\n";
      continue;
    }
    const std::string text = content_text(m["content"]);
    if (!text.empty()) out += "[" + role + "] " + screenful(text, with_system_prompt ? 100000 : 40);
  }
  return out;
}

std::string turn_text(const AgentTurnRecord& t, bool with_system_prompt) {
  std::string out = fmt::format("\n===== agent proposal {}, turn {} ({} in, {} out tokens, ${:.5f}, {} draft evaluation{}) =====\n",
                                t.proposal, t.turn, t.tokens_in, t.tokens_out, t.cost_usd, t.draft_evals,
                                t.draft_evals == 1 ? "" : "s");
  out += "--- sent ---\n" + sent_text(parsed(t.request), with_system_prompt);
  const nlohmann::json response = parsed(t.response);
  out += "--- model ---\n";
  if (response.is_object() && !response.value("content", "").empty()) out += screenful(response.value("content", ""), 40) + "\n";
  const nlohmann::json results = parsed(t.tool_results);
  if (results.is_array())
    for (const auto& r : results) {
      out += "--- tool " + r.value("name", "") + " " + screenful(r.value("arguments", ""), 12) + "\n";
      out += std::string(r.value("is_error", false) ? "    ERROR: " : "    -> ") + screenful(r.value("result", ""), 30) + "\n";
    }
  return out;
}

}  // namespace

nlohmann::json transcript_json(const std::vector<AgentTurnRecord>& turns) {
  nlohmann::json out = nlohmann::json::array();
  for (const AgentTurnRecord& t : turns)
    out.push_back({{"proposal", t.proposal}, {"turn", t.turn}, {"kind", t.kind}, {"request", parsed(t.request)},
                   {"response", parsed(t.response)}, {"tool_results", parsed(t.tool_results)}, {"draft_evals", t.draft_evals},
                   {"tokens_in", t.tokens_in}, {"tokens_out", t.tokens_out}, {"cost_usd", t.cost_usd}, {"outcome", t.outcome},
                   {"created_at", t.created_at}});
  return out;
}

std::string transcript_text(const std::vector<AgentTurnRecord>& turns, bool with_system_prompt) {
  if (turns.empty()) return "\n(no agent transcript: this candidate was not proposed by the agent proposer)\n";
  std::string out;
  for (const AgentTurnRecord& t : turns) {
    if (t.kind == "end") out += "\n===== agent proposal " + std::to_string(t.proposal) + " ended: " + t.outcome + " =====\n";
    else out += turn_text(t, with_system_prompt);
  }
  return out;
}

std::string transcript_summary(const std::vector<AgentTurnRecord>& turns) {
  if (turns.empty()) return "";
  std::set<int> proposals;
  int model_turns = 0, drafts = 0;
  for (const AgentTurnRecord& t : turns) {
    proposals.insert(t.proposal);
    model_turns += t.kind == "turn";
    drafts += t.draft_evals;
  }
  return "agent: " + std::to_string(proposals.size()) + " proposal" + (proposals.size() == 1 ? "" : "s") + ", " +
         std::to_string(model_turns) + " turns, " + std::to_string(drafts) + " draft evaluations";
}

}  // namespace adrs

#include "driver/llm/agent_protocol.h"

namespace adrs::agent_protocol {

nlohmann::json tool_definitions(LlmProvider provider, const std::vector<ToolSpec>& tools) {
  nlohmann::json out = nlohmann::json::array();
  for (const ToolSpec& t : tools) {
    if (provider == LlmProvider::kAnthropic)
      out.push_back({{"name", t.name}, {"description", t.description}, {"input_schema", t.parameters}});
    else
      out.push_back({{"type", "function"},
                     {"function", {{"name", t.name}, {"description", t.description}, {"parameters", t.parameters}}}});
  }
  return out;
}

nlohmann::json first_messages(const std::string& user) {
  return nlohmann::json::array({{{"role", "user"}, {"content", user}}});
}

void append_answer(LlmProvider provider, int turn, LlmResponse* response, nlohmann::json* messages) {
  nlohmann::json message = response->assistant_message;
  if (!message.is_object()) message = {{"role", "assistant"}, {"content", response->content}};
  for (size_t i = 0; i < response->tool_calls.size(); ++i) {
    LlmToolCall& call = response->tool_calls[i];
    if (!call.id.empty()) continue;
    call.id = "call_" + std::to_string(turn) + "_" + std::to_string(i);
    // Keep the stored message consistent with the id the results will name.
    if (provider == LlmProvider::kOpenAi && message.contains("tool_calls") && i < message["tool_calls"].size())
      message["tool_calls"][i]["id"] = call.id;
    if (provider == LlmProvider::kAnthropic && message["content"].is_array()) {
      size_t seen = 0;
      for (auto& block : message["content"])
        if (block.is_object() && block.value("type", "") == "tool_use" && seen++ == i) block["id"] = call.id;
    }
  }
  // Anthropic rejects an assistant message with empty content; OpenAI one with neither content nor calls.
  if (provider == LlmProvider::kAnthropic && (!message["content"].is_array() || message["content"].empty()))
    message["content"] = nlohmann::json::array({{{"type", "text"}, {"text", response->content.empty() ? "(no answer)" : response->content}}});
  if (provider == LlmProvider::kOpenAi && message["content"].is_null() && !message.contains("tool_calls")) message["content"] = "";
  messages->push_back(std::move(message));
}

void append_results(LlmProvider provider, const std::vector<ToolResult>& results, const std::string& note,
                    nlohmann::json* messages) {
  if (provider == LlmProvider::kAnthropic) {
    nlohmann::json blocks = nlohmann::json::array();
    for (const ToolResult& r : results)
      blocks.push_back({{"type", "tool_result"}, {"tool_use_id", r.id}, {"content", r.text}, {"is_error", r.is_error}});
    if (!note.empty()) blocks.push_back({{"type", "text"}, {"text", note}});
    if (!blocks.empty()) messages->push_back({{"role", "user"}, {"content", blocks}});
    return;
  }
  for (const ToolResult& r : results)
    messages->push_back({{"role", "tool"}, {"tool_call_id", r.id}, {"content", (r.is_error ? "ERROR: " : "") + r.text}});
  if (!note.empty()) messages->push_back({{"role", "user"}, {"content", note}});
}

}  // namespace adrs::agent_protocol

// The agent's conversation in each provider's native shape: tool definitions, the first user
// message, the model's answers appended verbatim, and tool results.
//
//   OpenAI Chat Completions: tools = [{type: "function", function: {name, description, parameters}}];
//     the answer's message.tool_calls [{id, function: {name, arguments (a JSON string)}}] are answered
//     by one {role: "tool", tool_call_id, content} message per call.
//   Anthropic Messages: tools = [{name, description, input_schema}]; the answer's tool_use blocks
//     {id, name, input} are answered by one user message holding a tool_result block per call
//     ({type: "tool_result", tool_use_id, content, is_error}).
// Pure functions on JSON (no network, no state).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "driver/llm/llm_client.h"

namespace adrs::agent_protocol {

struct ToolSpec {
  std::string name, description;
  nlohmann::json parameters;  // a JSON schema (type object)
};

struct ToolResult {
  std::string id, name, text;
  bool is_error = false;
};

nlohmann::json tool_definitions(LlmProvider provider, const std::vector<ToolSpec>& tools);

// The conversation's first message (the task).
nlohmann::json first_messages(const std::string& user);

// Appends the model's answer. Tool calls without an id (some compatible servers omit it) get
// "call_<turn>_<index>", in the stored message and in `response->tool_calls` alike, so each
// result can name its call.
void append_answer(LlmProvider provider, int turn, LlmResponse* response, nlohmann::json* messages);

// Appends the results of the last answer's tool calls (in call order) and, when `note` is not
// empty, a user text after them (a reminder to use the tools, a limit that approaches).
void append_results(LlmProvider provider, const std::vector<ToolResult>& results, const std::string& note,
                    nlohmann::json* messages);

}  // namespace adrs::agent_protocol

#include "driver/llm/llm_protocol.h"

#include <cctype>
#include <cstdlib>

#include <nlohmann/json.hpp>

namespace adrs {

std::string build_request_body(const LlmModelConfig& model, const LlmRequest& request) {
  nlohmann::json body = {{"model", model.name}};
  const bool conversation = request.messages.is_array();
  if (conversation && request.tools.is_array() && !request.tools.empty()) body["tools"] = request.tools;
  if (model.provider == LlmProvider::kOpenAi) {
    body["messages"] = nlohmann::json::array({{{"role", "system"}, {"content", request.system}}});
    if (conversation) body["messages"].insert(body["messages"].end(), request.messages.begin(), request.messages.end());
    else body["messages"].push_back({{"role", "user"}, {"content", request.user}});
    // OpenAI's own API wants max_completion_tokens (reasoning models reject max_tokens);
    // compatible servers (vLLM, Ollama, llama.cpp) know max_tokens.
    const bool openai_cloud = model.base_url.find("openai.com") != std::string::npos ||
                              model.base_url.find("openai.azure.com") != std::string::npos;
    body[openai_cloud ? "max_completion_tokens" : "max_tokens"] = model.max_tokens;
    if (model.temperature) body["temperature"] = *model.temperature;
    if (!model.reasoning_effort.empty()) body["reasoning_effort"] = model.reasoning_effort;
  } else {
    body["system"] = request.system;
    body["messages"] = conversation ? request.messages : nlohmann::json::array({{{"role", "user"}, {"content", request.user}}});
    int max_tokens = model.max_tokens;
    if (!model.reasoning_effort.empty()) {
      // Extended thinking: a budget below max_tokens; temperature must stay at its default then.
      const int budget = model.reasoning_effort == "high" ? 16000 : model.reasoning_effort == "medium" ? 8000 : 2048;
      body["thinking"] = {{"type", "enabled"}, {"budget_tokens", budget}};
      if (max_tokens <= budget) max_tokens = budget + 4096;
    } else if (model.temperature) {
      body["temperature"] = std::min(1.0, *model.temperature);
    }
    body["max_tokens"] = max_tokens;
  }
  return body.dump();
}

std::string endpoint_url(const LlmModelConfig& model) {
  return model.base_url + (model.provider == LlmProvider::kAnthropic ? "/messages" : "/chat/completions");
}

namespace llm_protocol {
namespace {

std::string one_line(const std::string& text, size_t limit) {
  std::string out;
  for (char c : text) {
    if (out.size() >= limit) {
      out += "...";
      break;
    }
    out += (c == '\n' || c == '\r' || c == '\t') ? ' ' : (std::isprint(static_cast<unsigned char>(c)) ? c : '?');
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

int64_t estimate_tokens(const std::string& text) { return static_cast<int64_t>(text.size() / 4); }

std::string string_or_empty(const nlohmann::json& j, const char* key) {
  return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}

LlmStatus parse_openai(const nlohmann::json& j, LlmResponse* r, std::string* message) {
  if (!j.contains("choices") || !j["choices"].is_array() || j["choices"].empty() || !j["choices"][0].is_object()) {
    *message = "the answer has no choices[0] (not an OpenAI Chat Completions response; is base_url right?)";
    return LlmStatus::kBadResponse;
  }
  const auto& choice = j["choices"][0];
  const nlohmann::json msg = choice.contains("message") && choice["message"].is_object() ? choice["message"] : nlohmann::json::object();
  r->content = string_or_empty(msg, "content");
  r->reasoning = string_or_empty(msg, "reasoning_content");
  if (r->reasoning.empty()) r->reasoning = string_or_empty(msg, "reasoning");
  r->finish_reason = string_or_empty(choice, "finish_reason");
  r->truncated = r->finish_reason == "length";
  nlohmann::json calls = nlohmann::json::array();
  if (msg.contains("tool_calls") && msg["tool_calls"].is_array()) {
    for (const auto& call : msg["tool_calls"]) {
      if (!call.is_object() || !call.contains("function") || !call["function"].is_object()) continue;
      const auto& f = call["function"];
      LlmToolCall tool{string_or_empty(call, "id"), string_or_empty(f, "name"),
                       f.contains("arguments") && !f["arguments"].is_string() ? f["arguments"].dump() : string_or_empty(f, "arguments")};
      calls.push_back({{"id", tool.id}, {"type", "function"}, {"function", {{"name", tool.name}, {"arguments", tool.arguments}}}});
      r->tool_calls.push_back(std::move(tool));
    }
  }
  r->assistant_message = {{"role", "assistant"}, {"content", r->content.empty() ? nlohmann::json(nullptr) : nlohmann::json(r->content)}};
  if (!calls.empty()) r->assistant_message["tool_calls"] = calls;
  if (j.contains("usage") && j["usage"].is_object()) {
    r->tokens_in = j["usage"].value("prompt_tokens", int64_t{0});
    r->tokens_out = j["usage"].value("completion_tokens", int64_t{0});
  }
  const std::string refusal = string_or_empty(msg, "refusal");
  if (!refusal.empty() || r->finish_reason == "content_filter") {
    *message = "the model refused: " + one_line(refusal.empty() ? "content_filter" : refusal, 200);
    return LlmStatus::kRefused;
  }
  return LlmStatus::kOk;
}

LlmStatus parse_anthropic(const nlohmann::json& j, LlmResponse* r, std::string* message) {
  if (!j.contains("content") || !j["content"].is_array()) {
    *message = "the answer has no content array (not an Anthropic Messages response; is base_url right?)";
    return LlmStatus::kBadResponse;
  }
  for (const auto& block : j["content"]) {
    if (!block.is_object()) continue;
    const std::string type = string_or_empty(block, "type");
    if (type == "text") r->content += string_or_empty(block, "text");
    else if (type == "thinking") r->reasoning += string_or_empty(block, "thinking");
    else if (type == "tool_use") {
      const nlohmann::json input = block.contains("input") ? block["input"] : nlohmann::json::object();
      r->tool_calls.push_back({string_or_empty(block, "id"), string_or_empty(block, "name"),
                               input.is_string() ? input.get<std::string>() : input.dump()});
    }
  }
  r->assistant_message = {{"role", "assistant"}, {"content", j["content"]}};
  r->finish_reason = string_or_empty(j, "stop_reason");
  r->truncated = r->finish_reason == "max_tokens";
  if (j.contains("usage") && j["usage"].is_object()) {
    r->tokens_in = j["usage"].value("input_tokens", int64_t{0});
    r->tokens_out = j["usage"].value("output_tokens", int64_t{0});
  }
  if (r->finish_reason == "refusal") {
    *message = "the model refused (stop_reason refusal)";
    return LlmStatus::kRefused;
  }
  return LlmStatus::kOk;
}

}  // namespace

LlmStatus parse_answer(const LlmModelConfig& model, const std::string& body, LlmResponse* r, std::string* message) {
  const nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    *message = "the server's answer is not JSON (" + std::to_string(body.size()) + " bytes, starting '" + one_line(body, 80) +
               "'): truncated, or base_url points at something that is not an LLM API";
    return LlmStatus::kBadResponse;
  }
  const LlmStatus status = model.provider == LlmProvider::kAnthropic ? parse_anthropic(j, r, message) : parse_openai(j, r, message);
  if (status != LlmStatus::kOk) return status;
  if (r->tokens_out == 0) r->tokens_out = estimate_tokens(r->content) + estimate_tokens(r->reasoning);
  bool blank = true;
  for (char c : r->content) blank = blank && std::isspace(static_cast<unsigned char>(c));
  if (blank && !r->truncated && r->tool_calls.empty()) {
    *message = r->reasoning.empty() ? "the model's answer is empty" : "the model's answer is empty (it only reasoned)";
    return LlmStatus::kEmpty;
  }
  return LlmStatus::kOk;
}

std::string server_error_text(const std::string& body) {
  const nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_discarded() && j.is_object()) {
    if (j.contains("error")) {
      const auto& e = j["error"];
      if (e.is_string()) return one_line(e.get<std::string>(), 300);
      if (e.is_object() && e.contains("message") && e["message"].is_string()) return one_line(e["message"].get<std::string>(), 300);
    }
    if (j.contains("message") && j["message"].is_string()) return one_line(j["message"].get<std::string>(), 300);
    if (j.contains("detail") && j["detail"].is_string()) return one_line(j["detail"].get<std::string>(), 300);
  }
  if (body.empty()) return "empty body";
  return "non-JSON body: " + one_line(body, 200);
}

std::string http_error_message(const LlmModelConfig& model, int http_status, const std::string& body) {
  const std::string head = "HTTP " + std::to_string(http_status) + " from " + endpoint_url(model) + " (" + server_error_text(body) + "); ";
  const std::string key = model.api_key_env.empty() ? "no key (api_key_env is empty)" : "the key in $" + model.api_key_env;
  switch (http_status) {
    case 401:
      return head + key + " was rejected: set api_key_env to the variable that holds a valid key for this server";
    case 403:
      return head + key + " may not use model '" + model.name + "': check the account's access or choose another model";
    case 404:
      return head + "check base_url (OpenAI-compatible servers usually end in /v1; Anthropic's is "
                    "https://api.anthropic.com/v1) and the model name '" + model.name + "'";
    case 400:
    case 422:
      return head + "check the model name '" + model.name + "' and its settings (max_tokens, temperature, reasoning_effort)";
    case 429:
      return head + "rate limited; retries exhausted: lower --parallel or wait";
    default:
      if (http_status >= 500) return head + "the server failed; retries exhausted";
      return head + "the request was rejected";
  }
}

double parse_retry_after(const std::string& value) {
  std::string v;
  for (char c : value)
    if (!std::isspace(static_cast<unsigned char>(c))) v += c;
  if (v.empty()) return -1;
  char* end = nullptr;
  const double seconds = std::strtod(v.c_str(), &end);
  if (end == v.c_str() || *end != '\0' || seconds < 0) return -1;
  return seconds;
}

}  // namespace llm_protocol
}  // namespace adrs

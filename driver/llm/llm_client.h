// LlmClient: one chat completion over HTTP (libcurl) with retries, for OpenAI Chat Completions
// (and every compatible server: vLLM, SGLang, llama.cpp, Ollama, OpenRouter, ...) and Anthropic
// Messages.
//
// Contract
// - complete() is thread-safe and blocking; several threads call it at once, each with its own
//   connection, so several requests are in flight (the run loop's --parallel threads).
// - The API key is read from the environment variable model.api_key_env at each attempt and is
//   only ever put in a request header. It is scrubbed from every server text the client returns.
// - Retries (exponential backoff with jitter, honouring Retry-After) on timeouts, connection
//   errors, 429, 5xx and unparseable 200 bodies; none on other 4xx, whose message says what to fix.
// - `cancel` aborts the transfer and any backoff wait promptly.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "driver/llm/llm_config.h"

namespace adrs {

struct LlmRequest {
  std::string system;
  std::string user;
  // A conversation with tools (the agent proposer, driver/llm/agent_protocol.h). When `messages`
  // is an array it replaces `user`: the provider's own message objects after the system prompt;
  // `tools` holds the provider's tool definitions.
  nlohmann::json messages = nullptr;
  nlohmann::json tools = nullptr;
};

// A tool call of the model. `arguments` is the JSON text as the model wrote it (OpenAI sends a
// string that may be broken JSON; Anthropic's parsed `input` is dumped back to text).
struct LlmToolCall {
  std::string id, name, arguments;
};

// How one HTTP attempt ended. Names (attempt_status_name) are stored in the run database.
enum class LlmStatus {
  kOk,
  kTimeout,         // no complete answer within model.timeout_s
  kConnection,      // refused, reset, dropped mid-answer, DNS failure
  kRateLimited,     // HTTP 429
  kServerError,     // HTTP 5xx (incl. Anthropic's 529 overloaded)
  kClientError,     // HTTP 4xx other than 429: not retried; the message says what to fix
  kBadResponse,     // 200 whose body is not the protocol's JSON (truncated, HTML, ...)
  kTooLarge,        // the body passed the size limit
  kEmpty,           // the model answered nothing (no text, no refusal)
  kRefused,         // the model refused (OpenAI "refusal", Anthropic stop_reason "refusal")
  kMissingKey,      // the api_key_env variable is unset or empty
  kCancelled,
};
const char* llm_status_name(LlmStatus status);
bool llm_status_retryable(LlmStatus status);

// One HTTP attempt, as recorded in the run database.
struct LlmAttempt {
  LlmStatus status = LlmStatus::kOk;
  int http_status = 0;
  double latency_s = 0.0;
  int64_t tokens_in = 0, tokens_out = 0;
  std::string response;  // the answer text when ok, else the (scrubbed, trimmed) error body
};

struct LlmResponse {
  LlmStatus status = LlmStatus::kOk;  // of the last attempt
  std::string message;        // user-facing error; empty when ok
  std::string content;        // the answer text
  std::string reasoning;      // reasoning_content / reasoning / thinking blocks, if any
  std::string finish_reason;  // "stop", "length", "end_turn", "max_tokens", ...
  bool truncated = false;     // the answer hit max_tokens: store it, do not apply it
  std::vector<LlmToolCall> tool_calls;  // in the order the model gave them (parallel calls)
  // The answer as the provider's assistant message, to append to a conversation verbatim
  // (Anthropic wants its thinking and tool_use blocks back unchanged).
  nlohmann::json assistant_message;
  int64_t tokens_in = 0, tokens_out = 0;  // summed over attempts that reported usage
  double latency_s = 0.0;                 // all attempts and waits
  std::vector<LlmAttempt> attempts;
  bool ok() const { return status == LlmStatus::kOk; }
};

struct RetryPolicy {
  int max_attempts = 5;
  double base_s = 2.0;
  double max_s = 60.0;
  double max_retry_after_s = 300.0;  // a longer Retry-After ends the retries (the answer is then an error)
  size_t max_body_bytes = 16u << 20;
};

class LlmClient {
 public:
  explicit LlmClient(RetryPolicy policy);
  LlmResponse complete(const LlmModelConfig& model, const LlmRequest& request, const std::atomic<bool>& cancel) const;

  // One attempt without retries (exposed for tests).
  LlmAttempt attempt_once(const LlmModelConfig& model, const LlmRequest& request, const std::atomic<bool>& cancel,
                          LlmResponse* response, double* retry_after_s) const;

 private:
  RetryPolicy policy_;
};

// The request body for `model` (no key in it: keys travel in headers).
std::string build_request_body(const LlmModelConfig& model, const LlmRequest& request);
// The endpoint URL: base_url + "/chat/completions" or "/messages".
std::string endpoint_url(const LlmModelConfig& model);

}  // namespace adrs

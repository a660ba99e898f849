// The two wire protocols of the LLM client: request bodies, answers and error bodies of OpenAI
// Chat Completions and Anthropic Messages. Pure functions (no network); internal to llm_client.
#pragma once

#include <string>

#include "driver/llm/llm_client.h"

namespace adrs::llm_protocol {

// Reads a 2xx body into `response` (content, reasoning, finish_reason, truncated, tokens).
// Returns kOk, kBadResponse (not the protocol's JSON), kEmpty or kRefused; `message` says why.
LlmStatus parse_answer(const LlmModelConfig& model, const std::string& body, LlmResponse* response, std::string* message);

// The user-facing message for an HTTP error status: the server's own words plus what to fix.
std::string http_error_message(const LlmModelConfig& model, int http_status, const std::string& body);

// The server's error text: error.message / error / message of a JSON body, else the body's start
// (HTML from a proxy, plain text), trimmed to one line of at most 300 characters.
std::string server_error_text(const std::string& body);

// Seconds from a Retry-After header value ("7", "1.5"); negative when absent or an HTTP date.
double parse_retry_after(const std::string& value);

}  // namespace adrs::llm_protocol

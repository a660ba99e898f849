// Pre-flight of an LLM run: before a run directory exists, check that every model of the [llm]
// table can be called, so a missing key or a server that is down costs seconds, not a budget.
//
// Contract
// - Each model whose api_key_env is set must find its variable set and non-empty (checked
//   without a request); the error names the variable and how to set it.
// - Then one small request per model, all at once, each bounded by kPreflightTimeoutS: an answer
//   (any 2xx, even an empty or truncated one) passes. A refused connection, an unknown host, and
//   HTTP 401, 403 and 404 fail with the URL and the fix. Anything else (a timeout, 429, 5xx, a
//   400 about the probe's tiny max_tokens) is a warning: passing faults are the run's retries'
//   business, and a slow reasoning model must not block the start.
// - The probe's cost is not recorded (there is no run yet); it asks for a few tokens only.
// - The key is never printed: messages come from LlmClient, which scrubs it.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "driver/llm/llm_config.h"
#include "util/status.h"

namespace adrs {

inline constexpr double kPreflightTimeoutS = 4.0;

// The system prompt of the probe request (tests' fake servers recognise it).
inline constexpr const char* kPreflightMarker = "adrs pre-flight check";

// Ok when every model can be called; `warnings` gets one line per model that answered oddly.
Status preflight_llm(const LlmConfig& config, std::vector<std::string>* warnings);

// The same for the [llm] table of a run config (RunConfig::llm); ok without a request when the
// table says preflight = false.
Status preflight_llm_table(const nlohmann::json& llm, std::vector<std::string>* warnings);

// Only the key variables (no network): the first model whose variable is unset or empty.
Status check_llm_keys(const LlmConfig& config);

}  // namespace adrs

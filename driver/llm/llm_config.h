// LlmConfig: the [llm] table of a run config (the key names are a contract, see docs/LLM.md).
//
//   [llm]
//   max_cost_usd = 20.0                 # stop new requests once spent + in-flight would pass it
//   selection = "weighted"              # or "bandit": learn improvements per dollar
//   [[llm.models]]
//   name = "gpt-5-mini"
//   provider = "openai"                 # or "anthropic"
//   base_url = "https://api.openai.com/v1"
//   api_key_env = "OPENAI_API_KEY"      # the NAME of the variable; "" for a local server
//   weight = 0.7
//   input_price_per_mtok = 0.25         # USD per million tokens
//   output_price_per_mtok = 2.0
//   temperature = 0.7                   # optional; max_tokens, reasoning_effort, timeout too
//
// The key itself never appears in a file: it is read from the environment at request time.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "util/status.h"

namespace adrs {

enum class LlmProvider { kOpenAi, kAnthropic };
const char* provider_name(LlmProvider provider);

struct LlmModelConfig {
  std::string name;  // the model id sent to the server
  LlmProvider provider = LlmProvider::kOpenAi;
  std::string base_url;     // without the endpoint path: ".../v1"
  std::string api_key_env;  // environment variable holding the key; "" sends no key
  double weight = 1.0;
  double input_price_per_mtok = 0.0;
  double output_price_per_mtok = 0.0;
  std::optional<double> temperature;
  int max_tokens = 16384;
  std::string reasoning_effort;  // "", "minimal", "low", "medium", "high"
  double timeout_s = 300.0;      // one HTTP attempt, wall clock

  // USD for a call with these token counts.
  double cost(int64_t tokens_in, int64_t tokens_out) const {
    return (static_cast<double>(tokens_in) * input_price_per_mtok + static_cast<double>(tokens_out) * output_price_per_mtok) / 1e6;
  }
};

struct LlmConfig {
  double max_cost_usd = 0.0;  // 0: no limit
  std::string selection = "weighted";
  std::vector<LlmModelConfig> models;
  int max_attempts = 5;       // HTTP attempts per proposal (the first one included)
  double retry_base_s = 2.0;  // backoff: base * 2^attempt, with jitter, capped at retry_max_s
  double retry_max_s = 60.0;
  std::string prompts_dir;    // "" : ./prompts when present, else the shipped prompts
  bool preflight = true;      // one small request per model before the run starts
};

// Reads the [llm] table given as JSON (RunConfig::llm). Unknown keys and bad values are errors
// naming the key and the fix. An empty object is an error: there is no model to call.
Status parse_llm_config(const nlohmann::json& llm, LlmConfig* config);

}  // namespace adrs

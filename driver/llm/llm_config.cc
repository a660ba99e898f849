#include "driver/llm/llm_config.h"

#define TOML_HEADER_ONLY 1
#include <toml++/toml.h>

#include <cctype>
#include <set>
#include <sstream>

#include "util/suggest.h"

namespace adrs {
namespace {

Status bad(const std::string& what) { return Status::Error("[llm] " + what); }

bool is_env_name(const std::string& s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  return true;
}

// Reads an optional number; a string or bool where a number belongs is an error.
Status number(const nlohmann::json& j, const std::string& key, const std::string& where, double* out) {
  if (!j.contains(key)) return Status::Ok();
  if (!j[key].is_number()) return bad(where + key + " must be a number");
  *out = j[key].get<double>();
  return Status::Ok();
}

Status text(const nlohmann::json& j, const std::string& key, const std::string& where, std::string* out) {
  if (!j.contains(key)) return Status::Ok();
  if (!j[key].is_string()) return bad(where + key + " must be a string");
  *out = j[key].get<std::string>();
  return Status::Ok();
}

Status parse_model(const nlohmann::json& j, size_t index, LlmModelConfig* m) {
  const std::string where = "models[" + std::to_string(index) + "].";
  if (!j.is_object()) return bad("each [[llm.models]] entry must be a table");
  static const std::set<std::string> keys = {"name", "provider", "base_url", "api_key_env", "weight",
                                             "input_price_per_mtok", "output_price_per_mtok", "temperature",
                                             "max_tokens", "reasoning_effort", "timeout"};
  for (const auto& [key, value] : j.items())
    if (!keys.count(key))
      return bad("unknown key " + where + key + did_you_mean(key, {keys.begin(), keys.end()}) + "; model keys: name, provider, base_url, api_key_env, weight, "
                 "input_price_per_mtok, output_price_per_mtok, temperature, max_tokens, reasoning_effort, timeout");
  for (const char* required : {"name", "provider", "base_url"})
    if (!j.contains(required)) return bad(where + required + " is missing");
  std::string provider;
  if (Status s = text(j, "name", where, &m->name); !s.ok()) return s;
  if (Status s = text(j, "provider", where, &provider); !s.ok()) return s;
  if (Status s = text(j, "base_url", where, &m->base_url); !s.ok()) return s;
  if (Status s = text(j, "api_key_env", where, &m->api_key_env); !s.ok()) return s;
  if (Status s = text(j, "reasoning_effort", where, &m->reasoning_effort); !s.ok()) return s;
  if (Status s = number(j, "weight", where, &m->weight); !s.ok()) return s;
  if (Status s = number(j, "input_price_per_mtok", where, &m->input_price_per_mtok); !s.ok()) return s;
  if (Status s = number(j, "output_price_per_mtok", where, &m->output_price_per_mtok); !s.ok()) return s;
  if (Status s = number(j, "timeout", where, &m->timeout_s); !s.ok()) return s;
  if (j.contains("temperature")) {
    double t = 0;
    if (Status s = number(j, "temperature", where, &t); !s.ok()) return s;
    if (t < 0 || t > 2) return bad(where + "temperature must be in [0, 2]");
    m->temperature = t;
  }
  if (j.contains("max_tokens")) {
    if (!j["max_tokens"].is_number_integer() || j["max_tokens"].get<int64_t>() < 256 || j["max_tokens"].get<int64_t>() > 1000000)
      return bad(where + "max_tokens must be an integer in [256, 1000000]");
    m->max_tokens = j["max_tokens"].get<int>();
  }
  if (m->name.empty()) return bad(where + "name must name the model (\"gpt-5-mini\", \"claude-sonnet-4-5\", ...)");
  if (provider == "openai") m->provider = LlmProvider::kOpenAi;
  else if (provider == "anthropic") m->provider = LlmProvider::kAnthropic;
  else return bad(where + "provider must be \"openai\" (also for vLLM, Ollama, OpenRouter, ...) or \"anthropic\"");
  if (m->base_url.rfind("http://", 0) != 0 && m->base_url.rfind("https://", 0) != 0)
    return bad(where + "base_url must start with http:// or https:// (e.g. https://api.openai.com/v1)");
  while (!m->base_url.empty() && m->base_url.back() == '/') m->base_url.pop_back();
  // Never echo the value: a key pasted here must not end up in a log or a terminal.
  if (!m->api_key_env.empty() && !is_env_name(m->api_key_env))
    return bad(where + "api_key_env must be the NAME of an environment variable (e.g. OPENAI_API_KEY), not the key "
               "itself; export the key in that variable");
  if (!(m->weight > 0)) return bad(where + "weight must be > 0");
  if (m->input_price_per_mtok < 0 || m->output_price_per_mtok < 0) return bad(where + "prices must be >= 0 (USD per million tokens)");
  if (!(m->timeout_s > 0) || m->timeout_s > 3600) return bad(where + "timeout must be in (0, 3600] seconds");
  static const std::set<std::string> efforts = {"", "minimal", "low", "medium", "high"};
  if (!efforts.count(m->reasoning_effort)) return bad(where + "reasoning_effort must be minimal, low, medium or high");
  return Status::Ok();
}

}  // namespace

const char* provider_name(LlmProvider provider) { return provider == LlmProvider::kAnthropic ? "anthropic" : "openai"; }

Status parse_llm_config(const nlohmann::json& llm, LlmConfig* config) {
  *config = LlmConfig{};
  if (!llm.is_object()) return bad("must be a table");
  // "agent" is the agent proposer's [llm.agent] table (agent_config.h): read there, left alone here,
  // so one config serves --proposer llm and --proposer agent.
  static const std::set<std::string> keys = {"max_cost_usd", "selection", "models", "max_attempts",
                                             "retry_base_s", "retry_max_s", "prompts_dir", "preflight", "agent"};
  for (const auto& [key, value] : llm.items())
    if (!keys.count(key))
      return bad("unknown key llm." + key + did_you_mean(key, {keys.begin(), keys.end()}) + "; keys: max_cost_usd, selection, max_attempts, retry_base_s, retry_max_s, "
                 "prompts_dir, preflight, and [[llm.models]] tables");
  if (Status s = number(llm, "max_cost_usd", "", &config->max_cost_usd); !s.ok()) return s;
  if (Status s = text(llm, "selection", "", &config->selection); !s.ok()) return s;
  if (Status s = number(llm, "retry_base_s", "", &config->retry_base_s); !s.ok()) return s;
  if (Status s = number(llm, "retry_max_s", "", &config->retry_max_s); !s.ok()) return s;
  if (Status s = text(llm, "prompts_dir", "", &config->prompts_dir); !s.ok()) return s;
  if (llm.contains("preflight")) {
    if (!llm["preflight"].is_boolean()) return bad("preflight must be true or false");
    config->preflight = llm["preflight"].get<bool>();
  }
  if (llm.contains("max_attempts")) {
    if (!llm["max_attempts"].is_number_integer() || llm["max_attempts"].get<int>() < 1 || llm["max_attempts"].get<int>() > 20)
      return bad("max_attempts must be an integer in [1, 20]");
    config->max_attempts = llm["max_attempts"].get<int>();
  }
  if (config->max_cost_usd < 0) return bad("max_cost_usd must be >= 0 (0: no limit)");
  if (config->selection != "weighted" && config->selection != "bandit") return bad("selection must be \"weighted\" or \"bandit\"");
  if (config->retry_base_s < 0 || config->retry_max_s < config->retry_base_s) return bad("need 0 <= retry_base_s <= retry_max_s");
  if (!llm.contains("models") || !llm["models"].is_array() || llm["models"].empty())
    return bad("needs at least one [[llm.models]] table (name, provider, base_url, api_key_env, weight, prices)");
  for (size_t i = 0; i < llm["models"].size(); ++i) {
    LlmModelConfig m;
    if (Status s = parse_model(llm["models"][i], i, &m); !s.ok()) return s;
    config->models.push_back(std::move(m));
  }
  return Status::Ok();
}

}  // namespace adrs

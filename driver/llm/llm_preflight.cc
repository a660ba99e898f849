#include "driver/llm/llm_preflight.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <thread>

#include "driver/llm/llm_client.h"

namespace adrs {
namespace {

struct ProbeResult {
  bool failed = false;
  std::string message;  // the error, or the warning; "" when the model answered
};

ProbeResult probe_model(const LlmModelConfig& configured) {
  LlmModelConfig model = configured;
  model.timeout_s = std::min(model.timeout_s, kPreflightTimeoutS);
  model.max_tokens = 16;           // an answer of a word or two is all the probe needs
  model.reasoning_effort.clear();  // a thinking budget would not fit in 16 tokens
  RetryPolicy once;
  once.max_attempts = 1;
  const LlmClient client(once);
  const std::atomic<bool> cancel{false};
  const LlmResponse response = client.complete(model, {kPreflightMarker, "Reply with the word OK."}, cancel);
  const std::string who = "model '" + model.name + "' at " + endpoint_url(model);
  const int http = response.attempts.empty() ? 0 : response.attempts.back().http_status;
  switch (response.status) {
    case LlmStatus::kOk:
    case LlmStatus::kEmpty:
    case LlmStatus::kRefused:
      return {};
    case LlmStatus::kMissingKey:
      return {true, response.message};
    case LlmStatus::kConnection:
      return {true, "cannot reach " + who + ": " + response.message +
                        " (start the server, or fix base_url in [[llm.models]]; is this machine online?)"};
    case LlmStatus::kClientError:
      if (http == 401 || http == 403 || http == 404) return {true, who + ": " + response.message};
      [[fallthrough]];
    default:
      return {false, who + " did not answer the pre-flight request cleanly (" + response.message +
                         "); going on, the run retries passing faults"};
  }
}

}  // namespace

Status check_llm_keys(const LlmConfig& config) {
  for (const LlmModelConfig& m : config.models) {
    if (m.api_key_env.empty()) continue;
    const char* value = std::getenv(m.api_key_env.c_str());
    if (value == nullptr || *value == '\0')
      return Status::Error("the environment variable " + m.api_key_env + " (api_key_env of model '" + m.name +
                           "') is not set: export " + m.api_key_env + "=<your key> and run again, or set api_key_env = \"\" "
                           "for a server that needs no key");
  }
  return Status::Ok();
}

Status preflight_llm(const LlmConfig& config, std::vector<std::string>* warnings) {
  if (Status s = check_llm_keys(config); !s.ok()) return s;
  std::vector<ProbeResult> results(config.models.size());
  std::vector<std::thread> probes;
  for (size_t i = 0; i < config.models.size(); ++i)
    probes.emplace_back([&, i] { results[i] = probe_model(config.models[i]); });
  for (std::thread& t : probes) t.join();
  std::string errors;
  for (const ProbeResult& r : results) {
    if (r.failed) errors += (errors.empty() ? "" : "\n") + r.message;
    else if (!r.message.empty() && warnings) warnings->push_back(r.message);
  }
  if (!errors.empty()) return Status::Error("LLM pre-flight failed:\n" + errors);
  return Status::Ok();
}

Status preflight_llm_table(const nlohmann::json& llm, std::vector<std::string>* warnings) {
  LlmConfig config;
  if (Status s = parse_llm_config(llm, &config); !s.ok()) return s;
  if (!config.preflight) return check_llm_keys(config);
  return preflight_llm(config, warnings);
}

}  // namespace adrs

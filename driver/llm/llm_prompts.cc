#include "driver/llm/llm_prompts.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include "util/file.h"
#include "util/resources.h"

namespace adrs {

const char* const kAllowedIncludes =
    "<algorithm>, <array>, <cmath>, <cstddef>, <cstdint>, <cstring>, <functional>, <limits>, <numeric>, <queue>, "
    "<random>, <utility>, <vector>";

std::string default_prompts_dir() { return data_dir() + "/prompts"; }

std::string resolve_prompts_dir(const std::string& configured) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!configured.empty()) return fs::absolute(configured, ec).lexically_normal().string();
  if (fs::is_directory("prompts", ec)) return fs::absolute("prompts", ec).lexically_normal().string();
  return default_prompts_dir();
}

const char* prompt_file(MutationKind kind) {
  switch (kind) {
    case MutationKind::kFullRewrite: return "rewrite.txt";
    case MutationKind::kCrossover: return "crossover.txt";
    case MutationKind::kFixUp: return "fixup.txt";
    default: return "diff.txt";
  }
}

namespace {

std::string attempts_text(const ProposalRequest& request) {
  std::string out;
  for (const AttemptView& a : request.recent_attempts) {
    out += "- #" + std::to_string(a.id) + " (" + mutation_kind_name(a.kind) + "): " + a.outcome;
    if (a.outcome.rfind("ok", 0) == 0) out += fmt::format(", score {:.5f}", a.score) + fmt::format(" (parent {:.5f})", request.parent.score);
    out += "\n";
  }
  return out;
}

std::string inspirations_text(const ProposalRequest& request) {
  std::string out;
  for (const CandidateView& c : request.inspirations) {
    out += "## Candidate #" + std::to_string(c.id) + fmt::format(": score {:.5f}", c.score) + fmt::format(", error {:.5f}", c.error) +
           fmt::format(", density {:.4f}\n", c.density) + "```cpp\n" + evolve_block_body(c.source) + "```\n";
  }
  return out;
}

}  // namespace

std::string format_metrics(const CandidateView& c) {
  std::string out = fmt::format("score {:.5f}", c.score) + fmt::format(", error {:.5f}", c.error) + fmt::format(", density {:.4f}", c.density) + "\n";
  const nlohmann::json m = c.metrics_json.empty() ? nlohmann::json() : nlohmann::json::parse(c.metrics_json, nullptr, false);
  if (!m.is_object()) return out;
  if (m.contains("penalty")) out += fmt::format("density penalty {:.5f}", m.value("penalty", 0.0)) + "\n";
  if (m.contains("row_error") && m["row_error"].is_object())
    out += fmt::format("per-row relative error: p50 {:.4f}", m["row_error"].value("p50", 0.0)) +
           fmt::format(", p90 {:.4f}", m["row_error"].value("p90", 0.0)) + fmt::format(", max {:.4f}", m["row_error"].value("max", 0.0)) + "\n";
  if (m.contains("attention_mass_kept"))
    out += fmt::format("true attention mass on kept keys (mean over rows) {:.4f}", m.value("attention_mass_kept", 0.0)) +
           fmt::format("; weight mass (sum of weights / n) {:.4f}", m.value("weight_mass", 0.0)) + "\n";
  if (m.contains("error_by_entropy") && m["error_by_entropy"].is_array() && !m["error_by_entropy"].empty()) {
    out += "error by normalized entropy of the row's true attention (low = peaked, high = flat):\n";
    out += "  entropy      rows    mean error   mean density\n";
    for (const auto& b : m["error_by_entropy"]) {
      out += fmt::format("  {:.2f}-{:.2f}  {:6}    {:.4f}       {:.4f}\n", b.value("entropy_low", 0.0), b.value("entropy_high", 0.0),
                         b.value("rows", int64_t{0}), b.value("mean_error", 0.0), b.value("mean_density", 0.0));
    }
  }
  return out;
}

PromptVariables prompt_variables(const ProposalRequest& request) {
  PromptVariables v;
  v["target_density"] = fmt::format("{:.4g}", request.target_density);
  v["workload"] = request.workload;
  v["allowed_includes"] = kAllowedIncludes;
  std::string masker_api;  // shown as empty when missing: the prompt still works
  if (!read_file(data_dir() + "/masker_template/masker_api.h", &masker_api).ok()) masker_api.clear();
  v["masker_api"] = masker_api;
  v["parent_id"] = std::to_string(request.parent.id);
  v["parent_source"] = request.parent.source;
  v["parent_metrics"] = format_metrics(request.parent);
  v["recent_attempts"] = attempts_text(request);
  v["inspirations"] = inspirations_text(request);
  const CandidateView second = request.inspirations.empty() ? CandidateView{} : request.inspirations.front();
  v["second_id"] = std::to_string(second.id);
  v["second_source"] = second.source;
  v["second_metrics"] = request.inspirations.empty() ? "" : format_metrics(second);
  v["failed_source"] = request.failed_source;
  v["failure_feedback"] = request.failure_feedback;
  return v;
}

Status build_prompt(const std::string& prompts_dir, const ProposalRequest& request, LlmRequest* out) {
  const PromptVariables v = prompt_variables(request);
  if (v.at("masker_api").empty())
    return Status::Error("cannot read masker_template/masker_api.h under " + data_dir() + " for the prompt; set ADRS_HOME to a folder holding masker_template/");
  if (Status s = render_template_file(prompts_dir, "system.txt", v, &out->system); !s.ok()) return s;
  if (Status s = render_template_file(prompts_dir, prompt_file(request.kind), v, &out->user); !s.ok()) return s;
  // A hint goes last, after every template (shipped or edited), so no template can drop it.
  if (!request.hint.empty()) out->user += "\n\n# A note from the researcher running this search\n" + request.hint + "\n";
  return Status::Ok();
}

}  // namespace adrs

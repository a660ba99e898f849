#include "driver/llm/agent_tools.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>

#include "driver/llm/llm_prompts.h"
#include "driver/patch/patch.h"
#include "driver/run/candidate_step.h"
#include "evaluator/compiler.h"

namespace adrs {
namespace {

namespace fs = std::filesystem;

// A shipped file, read without following a link at its last component, regular files only, capped.
// Empty when it cannot be read (the path is then left out of the allow list).
std::string read_shipped(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return "";
  struct stat st {};
  std::string text;
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
    text.resize(static_cast<size_t>(std::min<off_t>(st.st_size, 1 << 20)));
    const ssize_t n = ::read(fd, text.data(), text.size());
    text.resize(n > 0 ? static_cast<size_t>(n) : 0);
  }
  ::close(fd);
  return text;
}

std::string capped(const std::string& text, size_t limit) {
  if (text.size() <= limit) return text;
  return text.substr(0, limit) + "\n[... cut at " + std::to_string(limit) + " of " + std::to_string(text.size()) + " bytes]";
}

// Checks the call's arguments: a JSON object with only `allowed` keys, each a string.
bool parse_arguments(const std::string& text, const std::set<std::string>& allowed, nlohmann::json* args, std::string* error) {
  if (text.size() > kAgentMaxArgumentBytes) {
    *error = "the arguments are " + std::to_string(text.size()) + " bytes, over the limit of " + std::to_string(kAgentMaxArgumentBytes);
    return false;
  }
  *args = nlohmann::json::parse(text.empty() ? "{}" : text, nullptr, false);
  if (args->is_discarded() || !args->is_object()) {
    *error = "the arguments are not a valid JSON object (they start '" + text.substr(0, 60) +
             "'): send the call again with a JSON object, strings escaped";
    return false;
  }
  for (const auto& [key, value] : args->items()) {
    if (!allowed.count(key)) {
      std::string names;
      for (const auto& a : allowed) names += (names.empty() ? "" : ", ") + a;
      *error = "unknown argument '" + key.substr(0, 40) + "'; this tool takes: " + names;
      return false;
    }
    if (!value.is_string()) {
      *error = "argument '" + key + "' must be a string";
      return false;
    }
  }
  return true;
}

nlohmann::json draft_schema(const char* what) {
  return {{"type", "string"}, {"description", what}};
}

}  // namespace

AgentFiles collect_agent_files(const ProposalRequest& request, AgentWorkspace& workspace) {
  AgentFiles files;
  const std::string root = workspace.shipped_dir();
  auto add_shipped = [&](const std::string& name, const std::string& path) {
    std::error_code ec;
    if (fs::is_symlink(path, ec)) return;
    std::string text = read_shipped(path);
    if (!text.empty()) files[name] = std::move(text);
  };
  add_shipped("masker_api.h", root + "/masker_template/masker_api.h");
  add_shipped("docs/WORKLOADS.md", root + "/docs/WORKLOADS.md");
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root + "/masker_template/baselines", ec)) {
    if (entry.is_symlink(ec) || entry.path().extension() != ".cpp") continue;
    add_shipped("baselines/" + entry.path().filename().string(), entry.path().string());
  }
  files["parent.cpp"] = request.parent.source;
  for (const CandidateView& c : request.inspirations) files["inspirations/" + std::to_string(c.id) + ".cpp"] = c.source;
  if (!request.failed_source.empty()) files["failed.cpp"] = request.failed_source;
  std::string failures = workspace.recent_failures(request.candidate_id);
  if (!request.failure_feedback.empty()) failures = "The failed child to repair (failed.cpp):\n" + request.failure_feedback + "\n\n" + failures;
  files["failures.txt"] = failures.empty() ? "No failures in this run yet.\n" : failures;
  return files;
}

std::vector<agent_protocol::ToolSpec> agent_tool_specs(const std::vector<std::string>& settings) {
  const nlohmann::json source = draft_schema("The whole masker file (text outside the EVOLVE block unchanged) or only the new EVOLVE block body");
  const nlohmann::json edits = draft_schema("SEARCH/REPLACE blocks applied to parent.cpp (instead of source)");
  nlohmann::json setting = {{"type", "string"}, {"description", "Where to score the draft (default: the first, the cheapest)"}};
  setting["enum"] = settings;
  return {
      {"read", "Read a file of the allow list: masker_api.h, parent.cpp, inspirations/<id>.cpp, baselines/<name>.cpp, "
               "docs/WORKLOADS.md, failures.txt (the run's recent failures), failed.cpp (fix-ups). Any other path is an error.",
       {{"type", "object"}, {"properties", {{"path", {{"type", "string"}, {"description", "A path of the allow list"}}}}},
        {"required", {"path"}}, {"additionalProperties", false}}},
      {"evaluate", "Compile a draft and score it on a cheap setting in the sandbox. Returns status, score, error, density, "
                   "diagnostics or compiler errors. Each call uses one of the proposal's draft evaluations. Drafts are never candidates.",
       {{"type", "object"}, {"properties", {{"source", source}, {"edits", edits}, {"setting", setting}}}, {"additionalProperties", false}}},
      {"submit", "Submit the final masker: it becomes the candidate and ends your turn. Give source or edits, and a short note "
                 "saying what changed and why.",
       {{"type", "object"}, {"properties", {{"source", source}, {"edits", edits}, {"note", draft_schema("What changed and why (one or two sentences)")}}},
        {"required", {"note"}}, {"additionalProperties", false}}},
  };
}

AgentToolbox::AgentToolbox(const ProposalRequest& request, AgentFiles files, AgentWorkspace* workspace, const AgentConfig& config)
    : request_(request), files_(std::move(files)), workspace_(workspace), config_(config), settings_(workspace->draft_settings()) {
  for (const auto& [path, text] : files_) paths_.push_back(path);
}

ToolOutcome AgentToolbox::run(const LlmToolCall& call, const std::atomic<bool>& cancel) {
  ToolOutcome out;
  out.result.id = call.id;
  out.result.name = call.name;
  static const std::map<std::string, std::set<std::string>> kArguments = {
      {"read", {"path"}}, {"evaluate", {"source", "edits", "setting"}}, {"submit", {"source", "edits", "note"}}};
  const auto tool = kArguments.find(call.name);
  nlohmann::json args;
  std::string error;
  if (tool == kArguments.end()) {
    out.result.is_error = true;
    out.result.text = "unknown tool '" + call.name.substr(0, 40) + "'; the tools are read, evaluate and submit";
  } else if (!parse_arguments(call.arguments, tool->second, &args, &error)) {
    out.result.is_error = true;
    out.result.text = error;
  } else if (call.name == "read") {
    out.result.text = read(args, &out.result.is_error);
  } else if (call.name == "evaluate") {
    out.result.text = evaluate(args, cancel, &out.result.is_error, &out.draft_evaluated);
  } else {
    out.result.text = submit(args, &out, &out.result.is_error);
  }
  return out;
}

std::string AgentToolbox::read(const nlohmann::json& args, bool* is_error) const {
  const std::string path = args.value("path", "");
  const auto it = path.size() <= kAgentMaxPathBytes ? files_.find(path) : files_.end();
  if (it != files_.end()) return capped(it->second, kAgentMaxReadBytes);
  *is_error = true;
  std::string list;
  for (const std::string& p : paths_) list += (list.empty() ? "" : ", ") + p;
  const std::string shown = path.substr(0, 80);
  return "'" + shown + "' is not readable: read() serves only these paths, exactly as written: " + list;
}

bool AgentToolbox::draft_of(const nlohmann::json& args, bool allow_unchanged, std::string* source, std::string* error) const {
  const bool has_source = args.contains("source"), has_edits = args.contains("edits");
  if (has_source == has_edits) {
    *error = "give exactly one of 'source' (the whole file or the EVOLVE block body) and 'edits' (SEARCH/REPLACE blocks)";
    return false;
  }
  const std::string text = args[has_source ? "source" : "edits"].get<std::string>();
  if (text.size() > kAgentMaxDraftBytes) {
    *error = "the draft is " + std::to_string(text.size()) + " bytes, over the limit of " + std::to_string(kAgentMaxDraftBytes);
    return false;
  }
  const PatchResult patch = apply_llm_answer(request_.parent.source, text);
  if (patch.error == PatchError::kNoChange && allow_unchanged) {
    *source = request_.parent.source;
    return true;
  }
  if (!patch.ok()) {
    *error = std::string("the draft does not apply to parent.cpp (") + patch_error_name(patch.error) + "): " + patch.message;
    return false;
  }
  if (std::string outside = check_outside_block(request_.parent.source, patch.source); !outside.empty()) {
    *error = outside + ": only the EVOLVE block may change";
    return false;
  }
  *source = patch.source;
  return true;
}

std::string AgentToolbox::evaluate(const nlohmann::json& args, const std::atomic<bool>& cancel, bool* is_error, bool* ran) {
  *is_error = true;
  std::string source, error;
  if (!draft_of(args, true, &source, &error)) return error;
  const std::string setting = args.value("setting", settings_.empty() ? std::string() : settings_.front());
  if (std::find(settings_.begin(), settings_.end(), setting) == settings_.end()) return "unknown setting '" + setting.substr(0, 40) + "'";
  if (draft_evals_ >= config_.max_draft_evals)
    return "no draft evaluation left in this proposal (max_draft_evals = " + std::to_string(config_.max_draft_evals) + "): submit";
  std::string why_not;
  if (!workspace_->claim_draft_evaluation(&why_not)) return why_not + ": submit";
  ++draft_evals_;
  *ran = true;
  const EvalResult r = workspace_->evaluate_draft(source, setting, cancel);
  if (r.status == EvalStatus::kInternalError)
    return "the harness could not evaluate this draft (not a fault of the draft): " + r.message.substr(0, 300);
  *is_error = false;
  if (source != request_.parent.source) drafts_.push_back({source, setting, r.status, r.ok() ? r.metrics.score : 0.0});
  return describe_draft_result(r, setting, config_.max_draft_evals - draft_evals_);
}

std::string AgentToolbox::submit(const nlohmann::json& args, ToolOutcome* outcome, bool* is_error) {
  *is_error = true;
  std::string source, error;
  if (!draft_of(args, false, &source, &error)) return error + "; nothing was submitted, fix it and submit again";
  const std::string note = args.value("note", "");
  if (note.size() > kAgentMaxNoteBytes) return "the note is over " + std::to_string(kAgentMaxNoteBytes) + " bytes; shorten it";
  *is_error = false;
  outcome->submitted = true;
  outcome->source = source;
  outcome->note = note;
  return "submitted";
}

const DraftRecord* AgentToolbox::best_draft() const {
  const DraftRecord* best = nullptr;
  for (const DraftRecord& d : drafts_)
    if (d.status == EvalStatus::kOk && (best == nullptr || d.score > best->score)) best = &d;
  return best;
}

std::string describe_draft_result(const EvalResult& r, const std::string& setting, int evals_left) {
  std::string text = std::string("status: ") + status_name(r.status) + " (setting " + setting + ")\n";
  if (r.ok()) {
    CandidateView view;
    view.score = r.metrics.score;
    view.error = r.metrics.error;
    view.density = r.metrics.density;
    view.metrics_json = metrics_to_json(r.metrics).dump();
    text += format_metrics(view);
  } else {
    text += "message: " + r.message.substr(0, 2000) + "\n";
    if (!r.compile_log.empty()) text += "compiler output:\n" + trim_compiler_log(r.compile_log, 40) + "\n";
  }
  text += "draft evaluations left in this proposal: " + std::to_string(std::max(0, evals_left)) + "\n";
  return capped(text, 16 * 1024);
}

}  // namespace adrs

#include "driver/llm/llm_proposer.h"

#include <algorithm>

#include <fmt/format.h>

#include "driver/llm/llm_prompts.h"

namespace adrs {
namespace {

RetryPolicy policy_of(const LlmConfig& c) {
  RetryPolicy p;
  p.max_attempts = c.max_attempts;
  p.base_s = c.retry_base_s;
  p.max_s = c.retry_max_s;
  return p;
}

std::string attempt_status(const LlmAttempt& a, bool truncated) {
  if (a.status == LlmStatus::kOk) return truncated ? "truncated" : "ok";
  if (a.http_status >= 400) return "http_" + std::to_string(a.http_status);
  return llm_status_name(a.status);
}

Proposal failed(Proposal p, Proposal::Status status, std::string message) {
  p.status = status;
  p.message = std::move(message);
  return p;
}

}  // namespace

std::string strip_thinking(const std::string& answer) {
  std::string out = answer;
  for (size_t open = out.find("<think>"); open != std::string::npos; open = out.find("<think>", open)) {
    const size_t close = out.find("</think>", open);
    if (close == std::string::npos) break;  // an unclosed <think> is left for the patcher to judge
    out.erase(open, close + 8 - open);
  }
  return out;
}

LlmProposer::LlmProposer(LlmConfig config, LlmCallSink sink)
    : config_(std::move(config)), sink_(std::move(sink)), client_(policy_of(config_)), stats_(config_.models.size()) {}

Status LlmProposer::Create(const LlmConfig& config, LlmCallSink sink, std::unique_ptr<LlmProposer>* out) {
  if (config.models.empty()) return Status::Error("[llm] needs at least one [[llm.models]] table");
  LlmConfig c = config;
  c.prompts_dir = resolve_prompts_dir(c.prompts_dir);
  // Render every template once now, so a broken template fails the run at start, not mid-run.
  ProposalRequest probe;
  probe.parent.source = "// EVOLVE-BLOCK-START\n// EVOLVE-BLOCK-END\n";
  for (MutationKind kind : {MutationKind::kDiff, MutationKind::kFullRewrite, MutationKind::kCrossover, MutationKind::kFixUp}) {
    probe.kind = kind;
    LlmRequest request;
    if (Status s = build_prompt(c.prompts_dir, probe, &request); !s.ok()) return s;
  }
  out->reset(new LlmProposer(std::move(c), std::move(sink)));
  return Status::Ok();
}

std::string LlmProposer::describe() const {
  std::string models;
  for (const auto& m : config_.models) models += (models.empty() ? "" : ", ") + m.name;
  return "llm (" + models + "; " + config_.selection + "; prompts from " + config_.prompts_dir + ")";
}

double LlmProposer::spent_usd() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return spent_;
}

bool LlmProposer::budget_exhausted() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return exhausted_;
}

void LlmProposer::record_outcome(int64_t candidate_id, bool improved) {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = model_of_candidate_.find(candidate_id);
  if (it == model_of_candidate_.end()) return;
  if (improved) ++stats_[it->second].improvements;
  model_of_candidate_.erase(it);  // credit each candidate once
}

void LlmProposer::learn_from(const ProposalRequest& request) {
  for (const AttemptView& a : request.recent_attempts)
    record_outcome(a.id, a.outcome.rfind("ok", 0) == 0 && a.score > request.parent.score);
}

size_t LlmProposer::choose_model(std::mt19937_64& rng) {
  std::vector<double> weights;
  for (const auto& m : config_.models) weights.push_back(m.weight);
  std::lock_guard<std::mutex> lock(mutex_);
  if (config_.selection == "bandit" && std::uniform_real_distribution<double>(0, 1)(rng) >= 0.2) {
    // Improvements per dollar with one prior improvement per model, its prior cost one typical call.
    size_t best = 0;
    double best_value = -1;
    for (size_t i = 0; i < config_.models.size(); ++i) {
      const double typical = std::max(1e-6, config_.models[i].cost(8000, 2000));
      const double value = config_.models[i].weight * (stats_[i].improvements + 1.0) / (stats_[i].cost + typical);
      if (value > best_value) best = i, best_value = value;
    }
    return best;
  }
  return std::discrete_distribution<size_t>(weights.begin(), weights.end())(rng);
}

void LlmProposer::record(const ProposalRequest& request, const LlmModelConfig& model, const LlmRequest& prompt,
                         const LlmResponse& response) {
  if (!sink_) return;
  for (size_t i = 0; i < response.attempts.size(); ++i) {
    const LlmAttempt& a = response.attempts[i];
    LlmCallRecord call;
    call.candidate_id = request.candidate_id;
    call.model = model.name;
    call.tokens_in = a.tokens_in;
    call.tokens_out = a.tokens_out;
    call.cost_usd = model.cost(a.tokens_in, a.tokens_out);
    call.latency_s = a.latency_s;
    call.status = attempt_status(a, response.truncated && i + 1 == response.attempts.size());
    call.prompt = "[system]\n" + prompt.system + "\n[user]\n" + prompt.user;
    call.response = a.response;
    sink_(call);
  }
}

bool LlmProposer::reserve_budget(const LlmModelConfig& model, size_t index, int64_t prompt_tokens, double* estimate,
                                 std::string* why) {
  std::lock_guard<std::mutex> lock(mutex_);
  const double expected_out = answers_ > 0 ? mean_tokens_out_ : std::min(model.max_tokens, 4000);
  *estimate = model.cost(prompt_tokens, static_cast<int64_t>(expected_out));
  if (config_.max_cost_usd > 0 && spent_ + reserved_ + *estimate > config_.max_cost_usd) {
    exhausted_ = true;
    *why = fmt::format("LLM budget reached: spent ${:.4f} + in flight ${:.4f} + this call ~${:.4f} > max_cost_usd ${:.2f}",
                       spent_, reserved_, *estimate, config_.max_cost_usd);
    return false;
  }
  reserved_ += *estimate;
  ++stats_[index].calls;
  return true;
}

void LlmProposer::settle(size_t index, double estimate, double cost, const LlmResponse& response, int64_t candidate_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  reserved_ -= estimate;
  spent_ += cost;
  stats_[index].cost += cost;
  if (response.tokens_out > 0) {
    mean_tokens_out_ = (mean_tokens_out_ * answers_ + static_cast<double>(response.tokens_out)) / (answers_ + 1);
    ++answers_;
  }
  model_of_candidate_[candidate_id] = index;
}

namespace {

// Turns the model's answer into the proposal's source: the edits applied to the parent, or to the
// failed child for a fix-up.
Proposal apply_answer(const ProposalRequest& request, const LlmResponse& response, const LlmModelConfig& model, Proposal p) {
  if (response.status == LlmStatus::kCancelled) return failed(p, Proposal::Status::kCancelled, "cancelled");
  if (!response.ok()) return failed(p, Proposal::Status::kProposerError, "llm:" + std::string(llm_status_name(response.status)) + ": " + response.message);
  if (response.truncated) {
    p.patch_error = PatchError::kTruncated;
    return failed(p, Proposal::Status::kPatchError, "the answer hit max_tokens (finish_reason " + response.finish_reason +
                                                        "): stored, not applied; raise max_tokens for model " + model.name);
  }
  const std::string answer = strip_thinking(response.content);
  const bool fix_failed = request.kind == MutationKind::kFixUp && !request.failed_source.empty() &&
                          !evolve_block_body(request.failed_source).empty();
  const PatchResult patch = apply_llm_answer(fix_failed ? request.failed_source : request.parent.source, answer);
  if (!patch.ok()) {
    p.patch_error = patch.error;
    return failed(p, Proposal::Status::kPatchError, patch.message);
  }
  if (request.kind == MutationKind::kDiff || request.kind == MutationKind::kFullRewrite)
    p.kind = answer.find("<<<<<<<") != std::string::npos ? MutationKind::kDiff : MutationKind::kFullRewrite;
  p.status = Proposal::Status::kOk;
  p.source = patch.source;
  p.message = std::string(mutation_kind_name(p.kind)) + " by " + model.name + " (" + std::to_string(patch.edits_applied) + " edit" +
              (patch.edits_applied == 1 ? "" : "s") + ")";
  return p;
}

}  // namespace

Proposal LlmProposer::propose(const ProposalRequest& request, const std::atomic<bool>& cancel) {
  Proposal p;
  p.kind = request.kind;
  learn_from(request);
  LlmRequest prompt;
  if (Status s = build_prompt(config_.prompts_dir, request, &prompt); !s.ok())
    return failed(p, Proposal::Status::kProposerError, s.message());
  std::mt19937_64 rng(request.seed);
  const size_t index = choose_model(rng);
  const LlmModelConfig& model = config_.models[index];
  p.model = model.name;

  const int64_t prompt_tokens = static_cast<int64_t>((prompt.system.size() + prompt.user.size()) / 4);
  double estimate = 0;
  if (std::string why; !reserve_budget(model, index, prompt_tokens, &estimate, &why))
    return failed(p, Proposal::Status::kProposerError, why);
  const LlmResponse response = client_.complete(model, prompt, cancel);
  p.tokens_in = response.tokens_in;
  p.tokens_out = response.tokens_out;
  p.cost_usd = model.cost(response.tokens_in, response.tokens_out);
  p.latency_s = response.latency_s;
  p.raw_answer = response.content;
  settle(index, estimate, p.cost_usd, response, request.candidate_id);
  record(request, model, prompt, response);
  return apply_answer(request, response, model, std::move(p));
}

}  // namespace adrs

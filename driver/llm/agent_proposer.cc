#include "driver/llm/agent_proposer.h"

#include <chrono>
#include <cstdio>
#include <random>
#include <thread>

#include <fmt/format.h>

#include "driver/llm/llm_prompts.h"
#include "driver/run/candidate_step.h"

namespace adrs {
namespace {

using Clock = std::chrono::steady_clock;

RetryPolicy policy_of(const LlmConfig& c) {
  RetryPolicy p;
  p.max_attempts = c.max_attempts;
  p.base_s = c.retry_base_s;
  p.max_s = c.retry_max_s;
  return p;
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& i : items) out += (out.empty() ? "" : ", ") + i;
  return out;
}

const char* goal_of(MutationKind kind) {
  switch (kind) {
    case MutationKind::kFullRewrite: return "a new idea is welcome: a structural change of the method";
    case MutationKind::kCrossover: return "combine the best of parent.cpp and the inspirations";
    case MutationKind::kFixUp: return "first repair failed.cpp so that it compiles and runs, then improve it";
    default: return "one focused improvement";
  }
}

// Sets `stop` when the caller cancels or the proposal's wall time is over, so that an HTTP call or
// a draft evaluation in progress ends promptly.
class Watchdog {
 public:
  Watchdog(const std::atomic<bool>& outer, std::atomic<bool>& stop, Clock::time_point deadline)
      : thread_([this, &outer, &stop, deadline] {
          while (!done_.load()) {
            if (outer.load() || Clock::now() >= deadline) stop = true;
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
          }
        }) {}
  ~Watchdog() {
    done_ = true;
    thread_.join();
  }

 private:
  std::atomic<bool> done_{false};
  std::thread thread_;
};

}  // namespace

struct AgentProposer::Session {
  Session(const ProposalRequest& r, const LlmModelConfig& m, const std::atomic<bool>& c) : request(r), model(m), outer(c) {}
  const ProposalRequest& request;
  const LlmModelConfig& model;
  const std::atomic<bool>& outer;
  std::atomic<bool> stop{false};
  std::unique_ptr<AgentToolbox> tools;
  LlmRequest conversation;
  size_t recorded = 0;        // messages already stored with a turn
  std::string turn_request;   // this turn's new messages (JSON)
  int proposal = 1, turn = 0;
  int64_t tokens = 0;
  double turn_cost = 0;
  int64_t turn_in = 0, turn_out = 0;
  Proposal p;
};

AgentProposer::AgentProposer(LlmConfig llm, AgentConfig agent, std::shared_ptr<AgentWorkspace> workspace, LlmCallSink sink)
    : llm_(std::move(llm)), agent_(agent), workspace_(std::move(workspace)), sink_(std::move(sink)), client_(policy_of(llm_)) {}

Status AgentProposer::Create(const LlmConfig& llm, const AgentConfig& agent, std::shared_ptr<AgentWorkspace> workspace,
                             LlmCallSink sink, std::unique_ptr<AgentProposer>* out) {
  if (llm.models.empty()) return Status::Error("[llm] needs at least one [[llm.models]] table");
  if (!workspace) return Status::Error("the agent proposer needs a workspace (internal error)");
  LlmConfig c = llm;
  if (c.prompts_dir.empty()) c.prompts_dir = default_prompts_dir();
  std::unique_ptr<AgentProposer> proposer(new AgentProposer(std::move(c), agent, std::move(workspace), std::move(sink)));
  ProposalRequest probe;  // a broken template fails the run at start, not mid-run
  probe.parent.source = "// EVOLVE-BLOCK-START\n// EVOLVE-BLOCK-END\n";
  LlmRequest prompt;
  if (Status s = proposer->first_prompt(probe, &prompt); !s.ok()) return s;
  *out = std::move(proposer);
  return Status::Ok();
}

std::string AgentProposer::describe() const {
  std::vector<std::string> names;
  for (const auto& m : llm_.models) names.push_back(m.name);
  return "agent (" + joined(names) + "; " + std::to_string(agent_.max_turns) + " turns, " + std::to_string(agent_.max_draft_evals) +
         " draft evaluations per proposal)";
}

bool AgentProposer::budget_exhausted() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return exhausted_;
}

double AgentProposer::spent_usd() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return spent_;
}

Status AgentProposer::first_prompt(const ProposalRequest& request, LlmRequest* prompt) const {
  LlmRequest base;
  if (Status s = build_prompt(llm_.prompts_dir, request, &base); !s.ok()) return s;
  PromptVariables v = prompt_variables(request);
  const std::vector<std::string> settings = workspace_->draft_settings();
  std::vector<std::string> paths = {"masker_api.h", "parent.cpp", "docs/WORKLOADS.md", "baselines/<name>.cpp", "failures.txt"};
  for (const CandidateView& c : request.inspirations) paths.push_back("inspirations/" + std::to_string(c.id) + ".cpp");
  if (!request.failed_source.empty()) paths.push_back("failed.cpp");
  v["agent_files"] = joined(paths);
  v["draft_settings"] = joined(settings);
  v["max_draft_evals"] = std::to_string(agent_.max_draft_evals);
  v["max_turns"] = std::to_string(agent_.max_turns);
  v["mutation_goal"] = goal_of(request.kind);
  prompt->system = base.system;
  return render_template_file(llm_.prompts_dir, "agent.txt", v, &prompt->user);
}

bool AgentProposer::reserve(Session& s, double* estimate, std::string* why_not) {
  const int64_t prompt_tokens = static_cast<int64_t>((s.conversation.system.size() + s.conversation.messages.dump().size()) / 4);
  std::lock_guard<std::mutex> lock(mutex_);
  const double expected_out = answers_ > 0 ? mean_tokens_out_ : std::min(s.model.max_tokens, 2000);
  *estimate = s.model.cost(prompt_tokens, static_cast<int64_t>(expected_out));
  if (llm_.max_cost_usd > 0 && spent_ + reserved_ + *estimate > llm_.max_cost_usd) {
    exhausted_ = true;
    *why_not = fmt::format("LLM budget reached (spent ${:.4f} + in flight ${:.4f} + this turn ~${:.4f} > max_cost_usd ${:.2f})",
                           spent_, reserved_, *estimate, llm_.max_cost_usd);
    return false;
  }
  reserved_ += *estimate;
  return true;
}

void AgentProposer::settle(Session& s, double estimate, const LlmResponse& r) {
  const double cost = s.model.cost(r.tokens_in, r.tokens_out);
  s.p.cost_usd += cost;
  s.p.tokens_in += r.tokens_in;
  s.p.tokens_out += r.tokens_out;
  s.p.latency_s += r.latency_s;
  s.tokens += r.tokens_in + r.tokens_out;
  s.turn_cost = cost;
  s.turn_in = r.tokens_in;
  s.turn_out = r.tokens_out;
  std::lock_guard<std::mutex> lock(mutex_);
  reserved_ -= estimate;
  spent_ += cost;
  if (r.tokens_out > 0) {
    mean_tokens_out_ = (mean_tokens_out_ * answers_ + static_cast<double>(r.tokens_out)) / (answers_ + 1);
    ++answers_;
  }
}

void AgentProposer::record_calls(Session& s, const std::string& prompt, const LlmResponse& response) {
  if (!sink_) return;
  for (size_t i = 0; i < response.attempts.size(); ++i) {
    const LlmAttempt& a = response.attempts[i];
    LlmCallRecord call;
    call.candidate_id = s.request.candidate_id;
    call.model = s.model.name;
    call.tokens_in = a.tokens_in;
    call.tokens_out = a.tokens_out;
    call.cost_usd = s.model.cost(a.tokens_in, a.tokens_out);
    call.latency_s = a.latency_s;
    call.status = a.status == LlmStatus::kOk ? (response.truncated ? "truncated" : "ok")
                  : a.http_status >= 400     ? "http_" + std::to_string(a.http_status)
                                             : llm_status_name(a.status);
    call.prompt = "[agent proposal " + std::to_string(s.proposal) + ", turn " + std::to_string(s.turn) + ": new messages]\n" + prompt;
    call.response = a.response;
    sink_(call);
  }
}

// One model call. False when the LLM budget forbids it (response->message says so).
bool AgentProposer::call_model(Session& s, LlmResponse* response) {
  nlohmann::json delta = nlohmann::json::array();
  if (s.recorded == 0) delta.push_back({{"role", "system"}, {"content", s.conversation.system}});
  for (size_t i = s.recorded; i < s.conversation.messages.size(); ++i) delta.push_back(s.conversation.messages[i]);
  s.turn_request = delta.dump();
  s.recorded = s.conversation.messages.size();
  double estimate = 0;
  std::string why_not;
  if (!reserve(s, &estimate, &why_not)) {
    response->message = why_not;
    response->status = LlmStatus::kCancelled;
    return false;
  }
  ++s.turn;
  *response = client_.complete(s.model, s.conversation, s.stop);
  settle(s, estimate, *response);
  record_calls(s, s.turn_request, *response);
  return true;
}

// A model that answers in text instead of calling submit: a patch in the text is its submission.
static bool text_submission(const ProposalRequest& request, const LlmResponse& response, std::string* source) {
  if (response.truncated || response.content.empty()) return false;
  const PatchResult patch = apply_llm_answer(request.parent.source, strip_thinking(response.content));
  if (!patch.ok() || !check_outside_block(request.parent.source, patch.source).empty()) return false;
  *source = patch.source;
  return true;
}

// Runs the answer's tool calls in order. True when the proposal is done (*done set).
bool AgentProposer::run_tools(Session& s, LlmResponse& response, Proposal* done) {
  agent_protocol::append_answer(s.model.provider, s.turn, &response, &s.conversation.messages);
  s.recorded = s.conversation.messages.size();
  AgentTurnRecord turn;
  turn.candidate_id = s.request.candidate_id;
  turn.proposal = s.proposal;
  turn.turn = s.turn;
  turn.kind = "turn";
  turn.request = s.turn_request;
  turn.response = nlohmann::json{{"content", response.content}, {"reasoning", response.reasoning.substr(0, 16000)},
                                  {"finish_reason", response.finish_reason}, {"tool_calls", response.assistant_message.value("tool_calls", nlohmann::json())}}.dump();
  turn.tokens_in = s.turn_in;
  turn.tokens_out = s.turn_out;
  turn.cost_usd = s.turn_cost;
  std::vector<agent_protocol::ToolResult> results;
  nlohmann::json logged = nlohmann::json::array();
  ToolOutcome submission;
  for (const LlmToolCall& call : response.tool_calls) {
    ToolOutcome o = s.tools->run(call, s.stop);
    turn.draft_evals += o.draft_evaluated ? 1 : 0;
    logged.push_back({{"id", call.id}, {"name", call.name}, {"arguments", call.arguments.substr(0, kAgentMaxDraftBytes)},
                      {"result", o.result.text}, {"is_error", o.result.is_error}});
    results.push_back(o.result);
    if (o.submitted) {
      submission = std::move(o);
      break;  // submit ends the turn: later calls of the same answer are not run
    }
  }
  std::string note;
  if (response.tool_calls.empty()) {
    if (text_submission(s.request, response, &submission.source)) {
      submission.submitted = true;
      submission.note = "a patch in a text answer (no tool call)";
    } else {
      note = response.truncated ? "Your answer was cut at max_tokens: work in smaller steps. "
                                : "Use the tools (read, evaluate, submit); call submit to finish. ";
    }
  }
  turn.tool_results = logged.dump();
  workspace_->record_turn(turn);
  if (submission.submitted) {
    *done = s.p;
    done->status = Proposal::Status::kOk;
    done->source = submission.source;
    done->message = "agent by " + s.model.name + " (" + std::to_string(s.turn) + " turns, " + std::to_string(s.tools->draft_evals()) +
                    " drafts): " + submission.note.substr(0, 300);
    record_end(s, *done);
    return true;
  }
  if (s.turn + 1 == agent_.max_turns) note += "This is your last turn: submit now.";
  agent_protocol::append_results(s.model.provider, results, note, &s.conversation.messages);
  return false;
}

void AgentProposer::record_end(Session& s, const Proposal& p) {
  AgentTurnRecord end;
  end.candidate_id = s.request.candidate_id;
  end.proposal = s.proposal;
  end.turn = s.turn;
  end.kind = "end";
  end.tool_results = "[]";
  end.draft_evals = 0;
  end.tokens_in = p.tokens_in;
  end.tokens_out = p.tokens_out;
  end.cost_usd = p.cost_usd;
  end.outcome = (p.status == Proposal::Status::kOk ? "submitted: " : p.status == Proposal::Status::kCancelled ? "cancelled: " : "failed: ") +
                p.message;
  workspace_->record_turn(end);
}

// Ends the proposal at a limit (or an LLM error): the best draft becomes the candidate, or the
// proposal fails naming the reason.
Proposal AgentProposer::finish(Session& s, const std::string& reason) {
  Proposal p = s.p;
  if (const DraftRecord* best = s.tools->best_draft()) {
    p.status = Proposal::Status::kOk;
    p.source = best->source;
    p.message = "agent by " + s.model.name + ": " + reason +
                fmt::format("; submitted the best draft (score {:.6f} on {})", best->score, best->setting);
  } else {
    p.status = Proposal::Status::kProposerError;
    p.message = "agent: " + reason + ", and no draft had scored (" + std::to_string(s.tools->draft_evals()) + " draft evaluations)";
  }
  record_end(s, p);
  return p;
}

// The reason the proposal must stop before another model turn, or "".
static std::string limit_reached(const AgentConfig& a, int turns, int64_t tokens, int64_t next_input, bool out_of_time) {
  if (out_of_time) return "limit max_wall_s (" + std::to_string(static_cast<int>(a.max_wall_s)) + " s) reached";
  if (turns >= a.max_turns) return "limit max_turns (" + std::to_string(a.max_turns) + ") reached";
  if (tokens + next_input > a.max_tokens)
    return "limit max_tokens (" + std::to_string(a.max_tokens) + ") reached: " + std::to_string(tokens) + " used, the next turn needs ~" +
           std::to_string(next_input);
  return "";
}

Proposal AgentProposer::propose(const ProposalRequest& request, const std::atomic<bool>& cancel) {
  std::mt19937_64 rng(request.seed);
  std::vector<double> weights;
  for (const auto& m : llm_.models) weights.push_back(m.weight);
  const LlmModelConfig& model = llm_.models[std::discrete_distribution<size_t>(weights.begin(), weights.end())(rng)];
  Session s(request, model, cancel);
  s.p.kind = request.kind;
  s.p.model = model.name;
  if (Status st = first_prompt(request, &s.conversation); !st.ok()) {
    s.p.status = Proposal::Status::kProposerError;
    s.p.message = st.message();
    return s.p;
  }
  s.conversation.messages = agent_protocol::first_messages(s.conversation.user);
  s.conversation.tools = agent_protocol::tool_definitions(model.provider, agent_tool_specs(workspace_->draft_settings()));
  s.proposal = workspace_->begin_proposal(request.candidate_id);
  s.tools = std::make_unique<AgentToolbox>(request, collect_agent_files(request, *workspace_), workspace_.get(), agent_);
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(agent_.max_wall_s));
  Watchdog watchdog(cancel, s.stop, deadline);
  for (;;) {
    if (cancel.load()) break;
    const int64_t next_input = static_cast<int64_t>((s.conversation.system.size() + s.conversation.messages.dump().size()) / 4);
    if (std::string limit = limit_reached(agent_, s.turn, s.tokens, next_input, s.stop.load()); !limit.empty()) return finish(s, limit);
    LlmResponse response;
    if (!call_model(s, &response)) return finish(s, response.message);
    if (cancel.load()) break;
    if (response.status == LlmStatus::kCancelled) return finish(s, limit_reached(agent_, 0, 0, 0, true));
    if (!response.ok())
      return finish(s, "llm:" + std::string(llm_status_name(response.status)) + ": " + response.message);
    Proposal done;
    if (run_tools(s, response, &done)) return done;
  }
  s.p.status = Proposal::Status::kCancelled;
  s.p.message = "cancelled";
  record_end(s, s.p);
  return s.p;
}

}  // namespace adrs

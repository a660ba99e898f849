#include "tests/fake_agent.h"

#include <cstdio>
#include <regex>

#include <nlohmann/json.hpp>

#include "driver/patch/patch.h"
#include "driver/propose/offline_proposer.h"
#include "util/hash.h"

namespace adrs::test {
namespace {

constexpr const char* kBug = "int draft_bug = ;\n";

struct Conversation {
  bool anthropic = false, has_tools = false;
  std::string first_user;
  uint64_t salt = 0;
  int turn = 0;  // answers given so far
  std::vector<std::pair<std::string, std::string>> results;  // (tool call id, text), in order
  std::vector<std::pair<std::string, std::string>> calls;    // (tool call id, arguments)
};

std::string text_of(const nlohmann::json& content) {
  if (content.is_string()) return content.get<std::string>();
  std::string out;
  if (content.is_array())
    for (const auto& b : content)
      if (b.is_object() && b.value("type", "") == "text") out += b.value("text", "");
  return out;
}

void read_assistant(const nlohmann::json& m, bool anthropic, Conversation* c) {
  ++c->turn;
  if (anthropic && m["content"].is_array()) {
    for (const auto& b : m["content"])
      if (b.is_object() && b.value("type", "") == "tool_use") c->calls.push_back({b.value("id", ""), b["input"].dump()});
  } else if (m.contains("tool_calls")) {
    for (const auto& t : m["tool_calls"]) c->calls.push_back({t.value("id", ""), t["function"].value("arguments", "")});
  }
}

Conversation read_conversation(const RecordedRequest& request) {
  Conversation c;
  c.anthropic = request.path.find("/messages") != std::string::npos;
  const nlohmann::json body = nlohmann::json::parse(request.body, nullptr, false);
  if (!body.is_object()) return c;
  c.has_tools = body.contains("tools");
  for (const auto& m : body.value("messages", nlohmann::json::array())) {
    const std::string role = m.value("role", "");
    if (role == "assistant") read_assistant(m, c.anthropic, &c);
    else if (role == "tool") c.results.push_back({m.value("tool_call_id", ""), m.value("content", "")});
    else if (role == "user" && c.first_user.empty()) c.first_user = text_of(m["content"]);
    else if (role == "user" && m["content"].is_array())
      for (const auto& b : m["content"])
        if (b.is_object() && b.value("type", "") == "tool_result") c.results.push_back({b.value("tool_use_id", ""), text_of(b["content"])});
  }
  if (!c.calls.empty()) std::sscanf(c.calls.front().first.c_str(), "call_%lu_", &c.salt);
  return c;
}

// The parent source from a prompt: the first ```cpp fence.
std::string parent_in_prompt(const std::string& prompt) {
  const size_t open = prompt.find("```cpp\n");
  const size_t close = open == std::string::npos ? open : prompt.find("\n```", open + 7);
  return close == std::string::npos ? "" : prompt.substr(open + 7, close - open - 7) + "\n";
}

// Draft number `k` of conversation `salt`: a mutation of the parent, with the bug by chance.
std::string draft(const std::string& parent, uint64_t salt, int k, const ScriptedAgentOptions& o, bool with_bug) {
  OfflineProposer mutator;
  ProposalRequest r;
  r.seed = hash64(std::to_string(salt) + "/" + std::to_string(k));
  r.kind = (r.seed % 3 == 0) ? MutationKind::kFullRewrite : MutationKind::kDiff;
  r.parent.source = parent;
  const std::atomic<bool> never{false};
  Proposal p = mutator.propose(r, never);
  std::string source = p.status == Proposal::Status::kOk ? p.source : parent;
  const bool bug = with_bug && static_cast<double>(hash64("bug" + std::to_string(r.seed)) % 1000) < o.compile_error_rate * 1000;
  return bug ? with_compile_error(source) : source;
}

FakeToolCall call(uint64_t salt, int turn, int i, const std::string& name, nlohmann::json args) {
  return {"call_" + std::to_string(salt) + "_" + std::to_string(turn) + "_" + std::to_string(i), name, args.dump()};
}

double score_in(const std::string& result) {
  const size_t at = result.find("score ");
  return at == std::string::npos ? -1e300 : std::strtod(result.c_str() + at + 6, nullptr);
}

}  // namespace

std::string with_compile_error(const std::string& source) {
  const size_t end = source.find("// EVOLVE-BLOCK-END");
  return end == std::string::npos ? source : source.substr(0, end) + kBug + source.substr(end);
}

std::string without_compile_error(const std::string& source) {
  std::string out = source;
  for (size_t at = out.find(kBug); at != std::string::npos; at = out.find(kBug)) out.erase(at, std::string(kBug).size());
  return out;
}

FakeReply scripted_agent_reply(const RecordedRequest& request, int index, const ScriptedAgentOptions& o) {
  const Conversation c = read_conversation(request);
  if (!c.has_tools) {  // the one-shot proposer: its first draft, as a whole EVOLVE block
    const std::string d = draft(parent_in_prompt(c.first_user), static_cast<uint64_t>(index) + 1, 0, o, true);
    return FakeReply::answer("A change.\n```cpp\n// EVOLVE-BLOCK-START\n" + evolve_block_body(d) + "// EVOLVE-BLOCK-END\n```\n");
  }
  const uint64_t salt = c.turn == 0 ? static_cast<uint64_t>(index) + 1 : c.salt;
  if (c.turn == 0)
    return FakeReply::tools({call(salt, 0, 0, "read", {{"path", "masker_api.h"}}), call(salt, 0, 1, "read", {{"path", "parent.cpp"}})},
                            "Reading the API and the parent first.");
  std::string parent;
  for (const auto& [id, text] : c.results)
    if (id == "call_" + std::to_string(salt) + "_0_1") parent = text;
  // Drafts so far: the evaluate calls (arguments) and their results, in order.
  std::vector<std::pair<std::string, std::string>> evals;
  for (const auto& [id, args] : c.calls) {
    const nlohmann::json a = nlohmann::json::parse(args, nullptr, false);
    if (!a.is_object() || !a.contains("source")) continue;
    for (const auto& [rid, text] : c.results)
      if (rid == id) evals.push_back({a["source"].get<std::string>(), text});
  }
  const int turn = c.turn;
  if (!evals.empty() && evals.back().second.find("status: compile_error") != std::string::npos)
    return FakeReply::tools({call(salt, turn, 0, "evaluate", {{"source", without_compile_error(evals.back().first)}})}, "Fixing the compile error.");
  int scored = 0;
  for (const auto& e : evals) scored += e.second.find("status: ok") != std::string::npos ? 1 : 0;
  if (scored < o.variants && static_cast<int>(evals.size()) < o.variants * 2 + 2)
    return FakeReply::tools({call(salt, turn, 0, "evaluate", {{"source", draft(parent, salt, scored, o, true)}})}, "Trying a draft.");
  std::string best = draft(parent, salt, 0, o, false);
  double best_score = -1e300;
  for (const auto& [source, text] : evals)
    if (text.find("status: ok") != std::string::npos && score_in(text) > best_score) best = source, best_score = score_in(text);
  return FakeReply::tools({call(salt, turn, 0, "submit", {{"source", best}, {"note", "the best of my drafts"}})}, "Submitting.");
}

}  // namespace adrs::test

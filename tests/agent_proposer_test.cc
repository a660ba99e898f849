// The agent proposer against the fake server playing an agent: tool calls in both providers'
// shapes, parallel calls, broken JSON, the allow list (traversal, absolute paths, links), a draft
// that does not compile and its fix, every limit, a server that stops mid-conversation, the
// transcript, and the API key kept out of all of it.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>

#include "driver/llm/agent_proposer.h"
#include "tests/fake_agent.h"
#include "tests/fake_llm_server.h"
#include "tests/test_util.h"

namespace adrs {
namespace {

namespace fs = std::filesystem;
constexpr const char* kKeyVar = "ADRS_TEST_AGENT_KEY";
constexpr const char* kKey = "sk-adrs-agent-SECRET-7f3a91";
constexpr const char* kSecretText = "TOP-SECRET-CONTENT-a8d1";

// Drafts scored by a real evaluator (the sandboxed compiler and worker on `smoke`); shipped files
// from a private folder whose baselines/ holds a link to a secret file.
class TestWorkspace : public AgentWorkspace {
 public:
  explicit TestWorkspace(std::string dir) : dir_(std::move(dir)) {}
  std::vector<std::string> draft_settings() const override { return {"smoke"}; }
  EvalResult evaluate_draft(const std::string& source, const std::string&, const std::atomic<bool>& cancel) override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!evaluator_) evaluator_ = test::make_evaluator(test::test_options("smoke"));
    ++evaluations;
    return evaluator_->evaluate_source(source, &cancel);
  }
  bool claim_draft_evaluation(std::string* why_not) override {
    if (run_budget >= 0 && claimed >= run_budget) {
      *why_not = "the run's draft-evaluation budget is spent";
      return false;
    }
    ++claimed;
    return true;
  }
  std::string recent_failures(int64_t) override { return "candidate #3 (diff): compile_error: expected ';'\n"; }
  int begin_proposal(int64_t) override { return ++proposals; }
  void record_turn(const AgentTurnRecord& turn) override {
    std::lock_guard<std::mutex> lock(mutex_);
    turns.push_back(turn);
  }
  std::string shipped_dir() const override { return dir_; }

  std::vector<AgentTurnRecord> turns;
  int evaluations = 0, claimed = 0, run_budget = -1, proposals = 0;

 private:
  std::string dir_;
  std::mutex mutex_;
  std::unique_ptr<Evaluator> evaluator_;
};

class AgentProposerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::setenv(kKeyVar, kKey, 1);
    dir = (fs::temp_directory_path() / ("adrs-agent-" + std::to_string(::getpid()))).string();
    fs::remove_all(dir);
    fs::create_directories(dir + "/masker_template/baselines");
    fs::create_directories(dir + "/docs");
    fs::copy_file(test::source_dir() + "/masker_template/masker_api.h", dir + "/masker_template/masker_api.h");
    fs::copy_file(test::source_dir() + "/masker_template/baselines/quest.cpp", dir + "/masker_template/baselines/quest.cpp");
    std::ofstream(dir + "/docs/WORKLOADS.md") << "# Workloads\n";
    std::ofstream(dir + "/secret.txt") << kSecretText;
    fs::create_symlink(dir + "/secret.txt", dir + "/masker_template/baselines/evil.cpp");
    fs::create_symlink(dir + "/secret.txt", dir + "/docs/LINK.md");
    workspace = std::make_shared<TestWorkspace>(dir);
  }
  void TearDown() override { fs::remove_all(dir); }

  LlmConfig llm(LlmProvider provider = LlmProvider::kOpenAi) const {
    LlmConfig c;
    c.max_attempts = 1;
    c.retry_base_s = 0.01;
    c.retry_max_s = 0.02;
    LlmModelConfig m;
    m.name = "fake-agent";
    m.provider = provider;
    m.base_url = server.base_url();
    m.api_key_env = kKeyVar;
    m.input_price_per_mtok = 1.0;
    m.output_price_per_mtok = 10.0;
    m.max_tokens = 1000;
    m.timeout_s = 5;
    c.models.push_back(m);
    return c;
  }

  Proposal propose(const LlmConfig& c, const AgentConfig& a = AgentConfig{}) {
    std::unique_ptr<AgentProposer> p;
    const Status s = AgentProposer::Create(c, a, workspace, [this](const LlmCallRecord& r) {
      std::lock_guard<std::mutex> lock(mutex);
      calls.push_back(r);
    }, &p);
    EXPECT_TRUE(s.ok()) << s.message();
    ProposalRequest r;
    r.candidate_id = 7;
    r.seed = 11;
    r.parent.id = 1;
    r.parent.source = test::read_file(test::source_dir() + "/masker_template/evolve_masker.cpp");
    r.parent.score = -0.5;
    const std::atomic<bool> cancel{false};
    return p->propose(r, cancel);
  }

  // The tool results the server received in request `index`, in order (both shapes).
  std::vector<std::pair<std::string, bool>> results_in(int index) const {
    const auto body = nlohmann::json::parse(server.requests().at(index).body);
    std::vector<std::pair<std::string, bool>> out;
    for (const auto& m : body["messages"]) {
      if (m["role"] == "tool") out.push_back({m["content"].get<std::string>(), m["content"].get<std::string>().rfind("ERROR: ", 0) == 0});
      if (m["role"] == "user" && m["content"].is_array())
        for (const auto& b : m["content"])
          if (b["type"] == "tool_result") out.push_back({b["content"].get<std::string>(), b["is_error"].get<bool>()});
    }
    return out;
  }

  std::string starter() const { return test::read_file(test::source_dir() + "/masker_template/evolve_masker.cpp"); }
  std::string changed(const char* from = "0.045 * n));\n  const int window", const char* to = "0.03 * n));\n  const int window") const {
    std::string s = starter();
    s.replace(s.find(from), std::string(from).size(), to);
    return s;
  }
  static test::FakeToolCall call(const std::string& id, const std::string& name, const nlohmann::json& args) {
    return {id, name, args.dump()};
  }

  test::FakeLlmServer server;
  std::string dir;
  std::shared_ptr<TestWorkspace> workspace;
  std::mutex mutex;
  std::vector<LlmCallRecord> calls;
};

TEST_F(AgentProposerTest, OpenAiToolCallsAreAnsweredAsToolMessagesAndTheSubmissionIsTheProposal) {
  server.push(test::FakeReply::tools({call("c1", "read", {{"path", "parent.cpp"}})}));
  server.push(test::FakeReply::tools({call("c2", "submit", {{"source", changed()}, {"note", "smaller sink"}})}));
  const Proposal p = propose(llm());
  ASSERT_EQ(p.status, Proposal::Status::kOk) << p.message;
  EXPECT_EQ(p.source, changed());
  EXPECT_NE(p.message.find("smaller sink"), std::string::npos);
  const auto first = nlohmann::json::parse(server.requests()[0].body);
  ASSERT_TRUE(first["tools"].is_array());
  EXPECT_EQ(first["tools"][0]["type"], "function");
  EXPECT_EQ(first["tools"][0]["function"]["name"], "read");
  const auto second = nlohmann::json::parse(server.requests()[1].body);
  const auto& messages = second["messages"];
  EXPECT_EQ(messages[messages.size() - 2]["tool_calls"][0]["id"], "c1");
  EXPECT_EQ(messages.back()["role"], "tool");
  EXPECT_EQ(messages.back()["tool_call_id"], "c1");
  EXPECT_EQ(messages.back()["content"], starter());
  EXPECT_EQ(p.tokens_in, 6000);
  EXPECT_NEAR(p.cost_usd, 2 * (3000 * 1.0 + 800 * 10.0) / 1e6, 1e-12);
}

TEST_F(AgentProposerTest, AnthropicToolUseIsAnsweredWithToolResultBlocks) {
  server.push(test::FakeReply::tools({call("tu_1", "read", {{"path", "masker_api.h"}})}, "Reading."));
  server.push(test::FakeReply::tools({call("tu_2", "submit", {{"edits", "<<<<<<< SEARCH\n  const int sink = std::max(1, static_cast<int>(0.045 * n));\n=======\n"
                                                                       "  const int sink = std::max(1, static_cast<int>(0.03 * n));\n>>>>>>> REPLACE\n"},
                                                             {"note", "edits"}})}));
  const Proposal p = propose(llm(LlmProvider::kAnthropic));
  ASSERT_EQ(p.status, Proposal::Status::kOk) << p.message;
  EXPECT_EQ(p.source, changed());
  const auto first = nlohmann::json::parse(server.requests()[0].body);
  EXPECT_EQ(first["tools"][0]["name"], "read");
  EXPECT_TRUE(first["tools"][0]["input_schema"].is_object());
  const auto second = nlohmann::json::parse(server.requests()[1].body);
  const auto& assistant = second["messages"][1];
  EXPECT_EQ(assistant["role"], "assistant");
  EXPECT_EQ(assistant["content"][1]["type"], "tool_use");
  const auto& result = second["messages"][2]["content"][0];
  EXPECT_EQ(result["type"], "tool_result");
  EXPECT_EQ(result["tool_use_id"], "tu_1");
  EXPECT_NE(result["content"].get<std::string>().find("select"), std::string::npos);
}

TEST_F(AgentProposerTest, ParallelToolCallsAreAllAnsweredInTheirOrder) {
  server.push(test::FakeReply::tools({call("a", "read", {{"path", "masker_api.h"}}), call("b", "read", {{"path", "failures.txt"}}),
                                      call("c", "read", {{"path", "baselines/quest.cpp"}})}));
  server.push(test::FakeReply::tools({call("d", "submit", {{"source", changed()}, {"note", "n"}})}));
  ASSERT_EQ(propose(llm()).status, Proposal::Status::kOk);
  const auto results = results_in(1);
  ASSERT_EQ(results.size(), 3u);
  EXPECT_NE(results[0].first.find("struct Row"), std::string::npos);
  EXPECT_NE(results[1].first.find("expected ';'"), std::string::npos);
  EXPECT_EQ(results[2].first, test::read_file(dir + "/masker_template/baselines/quest.cpp"));
  const auto messages = nlohmann::json::parse(server.requests()[1].body)["messages"];
  EXPECT_EQ(messages[messages.size() - 3]["tool_call_id"], "a");
  EXPECT_EQ(messages[messages.size() - 1]["tool_call_id"], "c");
}

TEST_F(AgentProposerTest, BrokenJsonInAToolCallIsAnErrorToTheModelAndTheConversationGoesOn) {
  server.push(test::FakeReply::tools({{"x1", "read", "{\"path\": \"parent.cpp"}}));
  server.push(test::FakeReply::tools({{"x2", "submit", "[1, 2"}}));
  server.push(test::FakeReply::tools({call("x3", "submit", {{"source", changed()}, {"note", "ok now"}})}));
  const Proposal p = propose(llm());
  ASSERT_EQ(p.status, Proposal::Status::kOk) << p.message;
  for (int i : {1, 2}) {
    const auto results = results_in(i);
    ASSERT_FALSE(results.empty());
    EXPECT_TRUE(results.back().second);
    EXPECT_NE(results.back().first.find("not a valid JSON object"), std::string::npos) << results.back().first;
  }
}

TEST_F(AgentProposerTest, ReadsOutsideTheAllowListReturnAnErrorAndNeverContent) {
  const std::vector<std::string> paths = {"../secret.txt", "/etc/passwd", dir + "/secret.txt", "baselines/evil.cpp", "docs/LINK.md",
                                          "masker_template/masker_api.h", "./masker_api.h", "docs/../masker_api.h",
                                          "baselines/../../secret.txt", "parent.cpp/", "PARENT.CPP", "masker_api.h\n", ""};
  std::vector<test::FakeToolCall> reads;
  for (size_t i = 0; i < paths.size(); ++i) reads.push_back(call("r" + std::to_string(i), "read", {{"path", paths[i]}}));
  reads.push_back({"r-int", "read", "{\"path\": 42}"});
  reads.push_back({"r-extra", "read", "{\"path\": \"parent.cpp\", \"follow\": \"yes\"}"});
  server.push(test::FakeReply::tools(reads));
  server.push(test::FakeReply::tools({call("s", "submit", {{"source", changed()}, {"note", "n"}})}));
  ASSERT_EQ(propose(llm()).status, Proposal::Status::kOk);
  const auto results = results_in(1);
  ASSERT_EQ(results.size(), paths.size() + 2);
  for (size_t i = 0; i < results.size(); ++i) {
    EXPECT_TRUE(results[i].second) << i << ": " << results[i].first;
    EXPECT_EQ(results[i].first.find(kSecretText), std::string::npos) << i;
    EXPECT_EQ(results[i].first.find("struct Row"), std::string::npos) << i;  // no content of a real file either
  }
  EXPECT_NE(results[0].first.find("masker_api.h"), std::string::npos);  // the error lists what is readable
  EXPECT_EQ(results[0].first.find("evil.cpp"), std::string::npos);       // links are not on the list
  for (const auto& r : server.requests()) EXPECT_EQ(r.body.find(kSecretText), std::string::npos);
}

TEST_F(AgentProposerTest, ADraftThatDoesNotCompileIsShownItsErrorsAndTheFixIsSubmitted) {
  const std::string broken = test::with_compile_error(changed());
  server.push(test::FakeReply::tools({call("e1", "evaluate", {{"source", broken}})}));
  server.push(test::FakeReply::tools({call("e2", "evaluate", {{"source", changed()}})}));
  server.push(test::FakeReply::tools({call("e3", "submit", {{"source", changed()}, {"note", "fixed the draft"}})}));
  const Proposal p = propose(llm());
  ASSERT_EQ(p.status, Proposal::Status::kOk) << p.message;
  EXPECT_EQ(p.source, changed());
  const auto first = results_in(1), second = results_in(2);
  EXPECT_NE(first.back().first.find("status: compile_error"), std::string::npos) << first.back().first;
  EXPECT_NE(first.back().first.find("draft_bug"), std::string::npos) << "the compiler's message names the line";
  EXPECT_NE(second.back().first.find("status: ok"), std::string::npos) << second.back().first;
  EXPECT_NE(second.back().first.find("score -"), std::string::npos);
  EXPECT_EQ(workspace->evaluations, 2);
  int stored = 0;
  for (const auto& t : workspace->turns) stored += t.draft_evals;
  EXPECT_EQ(stored, 2);
}

TEST_F(AgentProposerTest, TurnLimitWithoutADraftIsAFailedProposalNamingTheLimit) {
  server.set_default([](const test::RecordedRequest&, int i) {
    return test::FakeReply::tools({{"r" + std::to_string(i), "read", "{\"path\":\"masker_api.h\"}"}});
  });
  AgentConfig a;
  a.max_turns = 3;
  const Proposal p = propose(llm(), a);
  EXPECT_EQ(p.status, Proposal::Status::kProposerError);
  EXPECT_NE(p.message.find("max_turns (3)"), std::string::npos) << p.message;
  EXPECT_EQ(server.request_count(), 3);
  const auto last = nlohmann::json::parse(server.requests()[2].body)["messages"].back();
  EXPECT_NE(last["content"].get<std::string>().find("last turn"), std::string::npos);  // the model was told
  ASSERT_FALSE(workspace->turns.empty());
  EXPECT_EQ(workspace->turns.back().kind, "end");
  EXPECT_NE(workspace->turns.back().outcome.find("failed: agent: limit max_turns"), std::string::npos);
}

TEST_F(AgentProposerTest, TurnLimitAfterADraftSubmitsTheBestDraft) {
  server.push(test::FakeReply::tools({call("e1", "evaluate", {{"source", changed()}})}));
  server.push(test::FakeReply::tools({call("e2", "evaluate", {{"source", changed("0.045 * n));\n  for", "0.2 * n));\n  for")}})}));
  server.set_default([](const test::RecordedRequest&, int i) {
    return test::FakeReply::tools({{"r" + std::to_string(i), "read", "{\"path\":\"parent.cpp\"}"}});
  });
  AgentConfig a;
  a.max_turns = 3;
  const Proposal p = propose(llm(), a);
  ASSERT_EQ(p.status, Proposal::Status::kOk) << p.message;
  EXPECT_EQ(p.source, changed()) << "the window of 0.2 n passes the density target: the first draft scores better";
  EXPECT_NE(p.message.find("max_turns"), std::string::npos);
  EXPECT_NE(p.message.find("best draft"), std::string::npos);
}

TEST_F(AgentProposerTest, DraftLimitsRefuseFurtherEvaluationsWithoutRunningThem) {
  std::vector<test::FakeToolCall> evals;
  for (int i = 0; i < 3; ++i) evals.push_back(call("e" + std::to_string(i), "evaluate", {{"source", changed()}}));
  server.push(test::FakeReply::tools(evals));
  server.push(test::FakeReply::tools({call("s", "submit", {{"source", changed()}, {"note", "n"}})}));
  AgentConfig a;
  a.max_draft_evals = 1;
  ASSERT_EQ(propose(llm(), a).status, Proposal::Status::kOk);
  const auto results = results_in(1);
  ASSERT_EQ(results.size(), 3u);
  EXPECT_FALSE(results[0].second);
  EXPECT_NE(results[1].first.find("max_draft_evals = 1"), std::string::npos) << results[1].first;
  EXPECT_EQ(workspace->evaluations, 1);
  // The run-wide budget, spent: an error too, and nothing runs.
  workspace->run_budget = workspace->claimed;
  server.push(test::FakeReply::tools({call("e9", "evaluate", {{"source", changed()}})}));
  server.push(test::FakeReply::tools({call("s9", "submit", {{"source", changed()}, {"note", "n"}})}));
  ASSERT_EQ(propose(llm()).status, Proposal::Status::kOk);
  EXPECT_NE(results_in(3).back().first.find("draft-evaluation budget is spent"), std::string::npos);
  EXPECT_EQ(workspace->evaluations, 1);
}

TEST_F(AgentProposerTest, TokenLimitEndsTheProposalBeforeTheTurnThatWouldPassIt) {
  server.set_default([](const test::RecordedRequest&, int i) {
    return test::FakeReply::tools({{"r" + std::to_string(i), "read", "{\"path\":\"masker_api.h\"}"}});
  });
  AgentConfig a;
  a.max_tokens = 9000;  // each turn reports 3000 in + 800 out
  const Proposal p = propose(llm(), a);
  EXPECT_EQ(p.status, Proposal::Status::kProposerError);
  EXPECT_NE(p.message.find("limit max_tokens (9000)"), std::string::npos) << p.message;
  EXPECT_EQ(server.request_count(), 2);
  EXPECT_LE(p.tokens_in + p.tokens_out, 9000);
}

TEST_F(AgentProposerTest, WallTimeLimitCutsASlowAnswerShort) {
  server.push(test::FakeReply::tools({call("r", "read", {{"path", "parent.cpp"}})}));
  test::FakeReply slow = test::FakeReply::tools({call("s", "submit", {{"source", changed()}, {"note", "late"}})});
  slow.delay_s = 60;
  server.push(slow);
  AgentConfig a;
  a.max_wall_s = 1;
  const Proposal p = propose(llm(), a);
  EXPECT_EQ(p.status, Proposal::Status::kProposerError);
  EXPECT_NE(p.message.find("limit max_wall_s (1 s)"), std::string::npos) << p.message;
}

TEST_F(AgentProposerTest, AServerThatStopsMidConversationEndsTheProposalWithTheReason) {
  server.push(test::FakeReply::tools({call("r", "read", {{"path", "parent.cpp"}})}));
  test::FakeReply gone;
  gone.drop_before_answer = true;
  server.set_default([gone](const test::RecordedRequest&, int) { return gone; });
  const Proposal p = propose(llm());
  EXPECT_EQ(p.status, Proposal::Status::kProposerError);
  EXPECT_NE(p.message.find("llm:connection_error"), std::string::npos) << p.message;
  ASSERT_EQ(workspace->turns.size(), 2u);  // the first turn, then how it ended
  EXPECT_EQ(workspace->turns[0].kind, "turn");
  EXPECT_EQ(workspace->turns[1].kind, "end");
}

TEST_F(AgentProposerTest, TranscriptHoldsEveryTurnAndNeverTheKey) {
  const std::string echo = std::string("your key is ") + kKey;
  server.push(test::FakeReply::tools({call("r", "read", {{"path", "parent.cpp"}})}, echo));
  server.push(test::FakeReply::tools({call("s", "submit", {{"source", changed()}, {"note", echo}})}));
  ASSERT_EQ(propose(llm()).status, Proposal::Status::kOk);
  ASSERT_EQ(workspace->turns.size(), 3u);
  EXPECT_NE(workspace->turns[0].request.find("EVOLVE-BLOCK-START"), std::string::npos);  // the task
  EXPECT_NE(workspace->turns[0].tool_results.find("parent.cpp"), std::string::npos);
  EXPECT_NE(workspace->turns[1].tool_results.find("submitted"), std::string::npos);
  std::string everything;
  for (const auto& t : workspace->turns) everything += t.request + t.response + t.tool_results + t.outcome;
  for (const auto& c : calls) everything += c.prompt + c.response;
  for (const auto& r : server.requests()) everything += r.body;
  EXPECT_EQ(everything.find(kKey), std::string::npos);
  EXPECT_NE(everything.find("[redacted]"), std::string::npos);
}

}  // namespace
}  // namespace adrs

namespace adrs {
namespace {

TEST(AgentConfigTest, OneLlmTableServesBothProposersAndBadAgentKeysAreNamed) {
  nlohmann::json llm = {{"models", {{{"name", "m"}, {"provider", "openai"}, {"base_url", "http://127.0.0.1:1/v1"}}}},
                        {"agent", {{"max_turns", 3}, {"max_draft_evals_total", 50}}}};
  LlmConfig l;
  EXPECT_TRUE(parse_llm_config(llm, &l).ok());  // proposer = "llm" leaves [llm.agent] alone
  AgentConfig a;
  ASSERT_TRUE(parse_agent_llm_config(llm, &l, &a).ok());
  EXPECT_EQ(a.max_turns, 3);
  EXPECT_EQ(a.max_draft_evals_total, 50);
  EXPECT_EQ(a.max_draft_evals, 4);  // the default
  llm["agent"]["max_turn"] = 3;
  Status s = parse_agent_llm_config(llm, &l, &a);
  EXPECT_NE(s.message().find("unknown key max_turn"), std::string::npos) << s.message();
  llm["agent"] = {{"max_turns", 0}};
  s = parse_agent_llm_config(llm, &l, &a);
  EXPECT_NE(s.message().find("max_turns must be an integer in [1, 200]"), std::string::npos) << s.message();
  llm["agent"] = {{"max_wall_s", "10"}};
  EXPECT_FALSE(parse_agent_llm_config(llm, &l, &a).ok());
}

}  // namespace
}  // namespace adrs

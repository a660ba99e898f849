// The LLM proposer against the fake server: answers applied or rejected with the reason, every
// fault turned into a failed proposal (never a crash or a hang), the budget, the bandit, and the
// API key kept out of everything the proposer produces.
#include <gtest/gtest.h>

#include <cstdlib>
#include <mutex>
#include <thread>

#include "driver/llm/llm_proposer.h"
#include "tests/fake_llm_server.h"
#include "tests/test_util.h"

namespace adrs {
namespace {

constexpr const char* kKeyVar = "ADRS_TEST_PROPOSER_KEY";
constexpr const char* kKey = "sk-adrs-proposer-SECRET-51c2e8";

const char* kSinkDiff =
    "Smaller sink.\n<<<<<<< SEARCH\n  const int sink = std::max(1, static_cast<int>(0.045 * n));\n=======\n"
    "  const int sink = std::max(1, static_cast<int>(0.02 * n));\n>>>>>>> REPLACE\n";

class LlmProposerTest : public ::testing::Test {
 protected:
  void SetUp() override { ::setenv(kKeyVar, kKey, 1); }

  LlmConfig config(int models = 1) const {
    LlmConfig c;
    c.max_attempts = 3;
    c.retry_base_s = 0.01;
    c.retry_max_s = 0.02;
    for (int i = 0; i < models; ++i) {
      LlmModelConfig m;
      m.name = "fake-" + std::to_string(i);
      m.provider = i % 2 ? LlmProvider::kAnthropic : LlmProvider::kOpenAi;
      m.base_url = server.base_url();
      m.api_key_env = kKeyVar;
      m.input_price_per_mtok = 1.0;
      m.output_price_per_mtok = 10.0;
      m.max_tokens = 1000;
      m.timeout_s = 2;
      c.models.push_back(m);
    }
    return c;
  }

  std::unique_ptr<LlmProposer> make(const LlmConfig& c) {
    std::unique_ptr<LlmProposer> p;
    const Status s = LlmProposer::Create(c, [this](const LlmCallRecord& r) {
      std::lock_guard<std::mutex> lock(mutex);
      calls.push_back(r);
    }, &p);
    EXPECT_TRUE(s.ok()) << s.message();
    return p;
  }

  ProposalRequest request(int64_t id = 2, MutationKind kind = MutationKind::kDiff) const {
    ProposalRequest r;
    r.candidate_id = id;
    r.seed = static_cast<uint64_t>(id) * 7919;
    r.kind = kind;
    r.parent.id = 1;
    r.parent.source = test::read_file(test::source_dir() + "/masker_template/evolve_masker.cpp");
    r.parent.score = -0.3;
    r.workload = "smoke";
    return r;
  }

  Proposal propose(LlmProposer& p, const ProposalRequest& r) {
    std::atomic<bool> cancel{false};
    return p.propose(r, cancel);
  }

  test::FakeLlmServer server;
  std::mutex mutex;
  std::vector<LlmCallRecord> calls;
};

TEST_F(LlmProposerTest, DiffAnswerIsAppliedAndRecorded) {
  server.push(test::FakeReply::answer(kSinkDiff));
  auto p = make(config());
  const Proposal r = propose(*p, request());
  ASSERT_EQ(r.status, Proposal::Status::kOk) << r.message;
  EXPECT_NE(r.source.find("0.02 * n"), std::string::npos);
  EXPECT_EQ(r.kind, MutationKind::kDiff);
  EXPECT_EQ(r.model, "fake-0");
  EXPECT_EQ(r.tokens_in, 3000);
  EXPECT_EQ(r.tokens_out, 800);
  EXPECT_DOUBLE_EQ(r.cost_usd, (3000 * 1.0 + 800 * 10.0) / 1e6);
  EXPECT_DOUBLE_EQ(p->spent_usd(), r.cost_usd);
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].status, "ok");
  EXPECT_EQ(calls[0].candidate_id, 2);
  EXPECT_NE(calls[0].prompt.find("class Selection"), std::string::npos);  // the API header is in the prompt
  EXPECT_EQ(calls[0].response, kSinkDiff);
}

TEST_F(LlmProposerTest, FullRewriteAndThinkingTags) {
  server.push(test::FakeReply::answer("<think>maybe a wider window\n<<<<<<< SEARCH\nbogus\n</think>\n```cpp\n"
                                      "// EVOLVE-BLOCK-START\nvoid select(const adrs::Row& row, adrs::Selection& out) {\n"
                                      "  for (int i = 0; i < row.num_keys; i += 10) out.add(i);\n}\n// EVOLVE-BLOCK-END\n```\n"));
  auto p = make(config());
  const Proposal r = propose(*p, request(3, MutationKind::kFullRewrite));
  ASSERT_EQ(r.status, Proposal::Status::kOk) << r.message;
  EXPECT_EQ(r.kind, MutationKind::kFullRewrite);
  EXPECT_NE(r.source.find("i += 10"), std::string::npos);
}

TEST_F(LlmProposerTest, FixUpEditsTheFailedChild) {
  ProposalRequest req = request(4, MutationKind::kFixUp);
  req.failed_source = req.parent.source;
  const std::string broken = "  const int n = row.num_keys;\n";
  req.failed_source.replace(req.failed_source.find(broken), broken.size(), "  const int n = row.num_keys\n");
  req.failure_feedback = "error: expected ',' or ';'";
  server.push(test::FakeReply::answer("<<<<<<< SEARCH\n  const int n = row.num_keys\n=======\n  const int n = row.num_keys;  "
                                      "// fixed\n  if (n == 0) return;\n>>>>>>> REPLACE\n"));
  auto p = make(config());
  const Proposal r = propose(*p, req);
  ASSERT_EQ(r.status, Proposal::Status::kOk) << r.message;
  EXPECT_EQ(r.kind, MutationKind::kFixUp);
  EXPECT_NE(r.source.find("if (n == 0) return;"), std::string::npos);
  EXPECT_NE(calls.at(0).prompt.find("expected ',' or ';'"), std::string::npos);
}

struct FaultCase {
  const char* name;
  std::function<void(test::FakeLlmServer&)> script;
  Proposal::Status status;
  PatchError patch_error;
  const char* message_part;
};

class LlmProposerFaultTest : public LlmProposerTest, public ::testing::WithParamInterface<FaultCase> {};

TEST_P(LlmProposerFaultTest, BecomesAFailedProposalWithTheReason) {
  GetParam().script(server);
  auto p = make(config());
  const Proposal r = propose(*p, request());
  EXPECT_EQ(r.status, GetParam().status) << r.message;
  EXPECT_EQ(r.patch_error, GetParam().patch_error) << r.message;
  EXPECT_NE(r.message.find(GetParam().message_part), std::string::npos) << r.message;
  EXPECT_TRUE(r.source.empty() || r.status == Proposal::Status::kOk);
  EXPECT_FALSE(calls.empty());
  EXPECT_LE(server.request_count(), 3);  // bounded by max_attempts
}

test::FakeReply with(test::FakeReply r, std::function<void(test::FakeReply&)> change) {
  change(r);
  return r;
}

INSTANTIATE_TEST_SUITE_P(
    Faults, LlmProposerFaultTest,
    ::testing::Values(
        FaultCase{"malformed_diff", [](auto& s) { s.push(test::FakeReply::answer("<<<<<<< SEARCH\n  int x;\n>>>>>>> REPLACE\n")); },
                  Proposal::Status::kPatchError, PatchError::kTruncated, "no ======= divider"},
        FaultCase{"search_not_found", [](auto& s) { s.push(test::FakeReply::answer("<<<<<<< SEARCH\n  int nope;\n=======\n  int x;\n>>>>>>> REPLACE\n")); },
                  Proposal::Status::kPatchError, PatchError::kSearchNotFound, "matches nowhere"},
        FaultCase{"outside_block", [](auto& s) { s.push(test::FakeReply::answer("<<<<<<< SEARCH\n#include <algorithm>\n=======\n#include <cmath>\n>>>>>>> REPLACE\n")); },
                  Proposal::Status::kPatchError, PatchError::kOutsideBlock, "outside the EVOLVE block"},
        FaultCase{"finish_length", [](auto& s) { s.push(with(test::FakeReply::answer(kSinkDiff), [](auto& r) { r.truncated = true; })); },
                  Proposal::Status::kPatchError, PatchError::kTruncated, "max_tokens"},
        FaultCase{"rate_limited_then_ok", [](auto& s) {
                    s.push(test::FakeReply::error(429, "{}", {{"Retry-After", "0"}}));
                    s.push(test::FakeReply::answer(kSinkDiff));
                  }, Proposal::Status::kOk, PatchError::kNone, "diff by fake-0"},
        FaultCase{"server_errors", [](auto& s) { for (int i = 0; i < 3; ++i) s.push(test::FakeReply::error(500, "oops")); },
                  Proposal::Status::kProposerError, PatchError::kNone, "llm:server_error"},
        FaultCase{"slow_past_timeout", [](auto& s) { for (int i = 0; i < 3; ++i) s.push(with(test::FakeReply::answer(kSinkDiff), [](auto& r) { r.delay_s = 2.3; })); },
                  Proposal::Status::kProposerError, PatchError::kNone, "llm:timeout"},
        FaultCase{"dropped_then_ok", [](auto& s) {
                    s.push(with(test::FakeReply{}, [](auto& r) { r.drop_before_answer = true; }));
                    s.push(test::FakeReply::answer(kSinkDiff));
                  }, Proposal::Status::kOk, PatchError::kNone, "diff"},
        FaultCase{"truncated_json", [](auto& s) { for (int i = 0; i < 3; ++i) s.push(with(test::FakeReply::answer(kSinkDiff), [](auto& r) { r.cut_body_at = 50; })); },
                  Proposal::Status::kProposerError, PatchError::kNone, "llm:bad_response"},
        FaultCase{"huge_body", [](auto& s) { s.push(with(test::FakeReply::answer(kSinkDiff), [](auto& r) { r.pad_bytes = 17u << 20; })); },
                  Proposal::Status::kProposerError, PatchError::kNone, "llm:too_large"},
        FaultCase{"refusal", [](auto& s) { s.push(with(test::FakeReply{}, [](auto& r) { r.refusal = "no"; })); },
                  Proposal::Status::kProposerError, PatchError::kNone, "llm:refused"},
        FaultCase{"empty", [](auto& s) { s.push(test::FakeReply::answer("")); },
                  Proposal::Status::kProposerError, PatchError::kNone, "llm:empty_answer"},
        FaultCase{"unauthorized", [](auto& s) { s.push(test::FakeReply::error(401, "<html>401</html>")); },
                  Proposal::Status::kProposerError, PatchError::kNone, "ADRS_TEST_PROPOSER_KEY was rejected"},
        FaultCase{"prose_only", [](auto& s) { s.push(test::FakeReply::answer("Use top-k with sampling.")); },
                  Proposal::Status::kPatchError, PatchError::kNoEdits, "no SEARCH/REPLACE"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST_F(LlmProposerTest, BudgetStopsWithinOneRequestOfTheLimit) {
  server.set_default([](const test::RecordedRequest&, int) { return test::FakeReply::answer(kSinkDiff); });
  LlmConfig c = config();
  c.max_cost_usd = 0.1;  // each call: 3000 in, 800 out = $0.011
  auto p = make(c);
  int ok = 0, refused = 0;
  for (int i = 0; i < 20; ++i) {
    const Proposal r = propose(*p, request(10 + i));
    if (r.status == Proposal::Status::kOk) ++ok;
    else if (r.message.find("LLM budget reached") != std::string::npos) ++refused;
  }
  const double per_call = 0.011;
  EXPECT_TRUE(p->budget_exhausted());
  EXPECT_LE(p->spent_usd(), c.max_cost_usd + per_call);
  EXPECT_GE(p->spent_usd(), c.max_cost_usd - per_call);
  EXPECT_EQ(ok, server.request_count());
  EXPECT_EQ(ok + refused, 20);
}

TEST_F(LlmProposerTest, BudgetHoldsWithRequestsInFlight) {
  server.set_default([](const test::RecordedRequest&, int) {
    test::FakeReply r = test::FakeReply::answer(kSinkDiff);
    r.delay_s = 0.05;
    return r;
  });
  LlmConfig c = config();
  c.max_cost_usd = 0.05;
  auto p = make(c);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) propose(*p, request(100 + t * 10 + i));
    });
  for (auto& th : threads) th.join();
  EXPECT_LE(p->spent_usd(), c.max_cost_usd + 0.011);
  EXPECT_TRUE(p->budget_exhausted());
}

TEST_F(LlmProposerTest, BanditLearnsWhichModelImprovesPerDollar) {
  server.set_default([](const test::RecordedRequest&, int) { return test::FakeReply::answer(kSinkDiff); });
  LlmConfig c = config(2);
  c.selection = "bandit";
  auto p = make(c);
  int good = 0;
  for (int i = 0; i < 60; ++i) {
    const Proposal r = propose(*p, request(1000 + i));
    ASSERT_EQ(r.status, Proposal::Status::kOk) << r.message;
    p->record_outcome(1000 + i, r.model == "fake-1");  // only model 1's children improve
    if (i >= 30 && r.model == "fake-1") ++good;
  }
  EXPECT_GE(good, 22);  // of the last 30: the exploit share (80%) goes to fake-1
}

TEST_F(LlmProposerTest, WeightedEnsembleUsesBothModels) {
  server.set_default([](const test::RecordedRequest&, int) { return test::FakeReply::answer(kSinkDiff); });
  auto p = make(config(2));
  std::set<std::string> used;
  for (int i = 0; i < 20; ++i) used.insert(propose(*p, request(i)).model);
  EXPECT_EQ(used.size(), 2u);
  bool anthropic = false;
  for (const auto& q : server.requests()) anthropic = anthropic || q.path == "/v1/messages";
  EXPECT_TRUE(anthropic);
}

TEST_F(LlmProposerTest, CancelReturnsCancelled) {
  server.push(with(test::FakeReply::answer(kSinkDiff), [](auto& r) { r.delay_s = 3; }));
  auto p = make(config());
  std::atomic<bool> cancel{false};
  std::thread t([&] {
    while (server.request_count() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    cancel = true;
  });
  const Proposal r = p->propose(request(), cancel);
  t.join();
  EXPECT_EQ(r.status, Proposal::Status::kCancelled);
}

TEST_F(LlmProposerTest, ApiKeyNeverLeavesTheRequestHeader) {
  // Every fault, including a server that echoes the key in its error and in its answer.
  const std::string echo = std::string("key ") + kKey + " is invalid";
  server.push(test::FakeReply::error(401, "{\"error\":{\"message\":\"" + echo + "\"}}"));
  server.push(test::FakeReply::error(500, echo));
  server.push(test::FakeReply::error(500, echo));
  server.push(test::FakeReply::error(500, echo));
  server.push(test::FakeReply::answer(std::string(kSinkDiff) + "\n(" + echo + ")"));
  server.push(with(test::FakeReply::answer(echo), [](auto& r) { r.cut_body_at = 30; }));
  server.set_default([&](const test::RecordedRequest&, int) { return test::FakeReply::answer(std::string(kSinkDiff) + echo); });
  auto p = make(config());
  std::string everything;
  for (int i = 0; i < 6; ++i) {
    const Proposal r = propose(*p, request(50 + i, i % 2 ? MutationKind::kFullRewrite : MutationKind::kDiff));
    everything += r.message + r.source + r.raw_answer + r.model;
  }
  for (const auto& c : calls) everything += c.prompt + c.response + c.status + c.model;
  EXPECT_GT(calls.size(), 6u);
  EXPECT_EQ(everything.find(kKey), std::string::npos);
  // It did travel in the header, where it belongs.
  EXPECT_NE(server.requests().at(0).headers.find(kKey), std::string::npos);
  for (const auto& q : server.requests()) EXPECT_EQ(q.body.find(kKey), std::string::npos);
}

TEST(LlmProposer, StripThinking) {
  EXPECT_EQ(strip_thinking("<think>a</think>b<think>c</think>d"), "bd");
  EXPECT_EQ(strip_thinking("x<think>open"), "x<think>open");
}

TEST(LlmProposer, BrokenTemplateFailsAtCreate) {
  char dir[] = "/tmp/adrs-prompts-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  for (const char* f : {"system.txt", "diff.txt", "rewrite.txt", "crossover.txt", "fixup.txt"})
    std::system(("cp " + test::source_dir() + "/prompts/" + f + " " + dir + "/").c_str());
  std::system((std::string("printf 'ok\\n{{parnet_source}}\\n' > ") + dir + "/rewrite.txt").c_str());
  LlmConfig c;
  c.prompts_dir = dir;
  c.models.push_back(LlmModelConfig{});
  std::unique_ptr<LlmProposer> p;
  const Status s = LlmProposer::Create(c, nullptr, &p);
  EXPECT_NE(s.message().find(std::string(dir) + "/rewrite.txt:2: unknown variable {{parnet_source}}"), std::string::npos) << s.message();
  std::system((std::string("rm -rf ") + dir).c_str());
}

}  // namespace
}  // namespace adrs

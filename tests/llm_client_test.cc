// The LLM client against the fake server on 127.0.0.1: both protocols, every fault the real
// servers produce, retries and what is not retried, cancellation, requests in flight together.
#include <gtest/gtest.h>

#include <cstdlib>
#include <thread>

#include <nlohmann/json.hpp>

#include "driver/llm/llm_client.h"
#include "tests/fake_llm_server.h"

namespace adrs {
namespace {

constexpr const char* kKeyVar = "ADRS_TEST_LLM_KEY";
constexpr const char* kKey = "sk-adrs-fake-KEY-7f3a9c";

class LlmClientTest : public ::testing::Test {
 protected:
  void SetUp() override { ::setenv(kKeyVar, kKey, 1); }
  LlmModelConfig model(LlmProvider provider = LlmProvider::kOpenAi) const {
    LlmModelConfig m;
    m.name = "fake-model";
    m.provider = provider;
    m.base_url = server.base_url();
    m.api_key_env = kKeyVar;
    m.timeout_s = 5;
    m.max_tokens = 1000;
    return m;
  }
  static RetryPolicy fast(int attempts = 4) {
    RetryPolicy p;
    p.max_attempts = attempts;
    p.base_s = 0.01;
    p.max_s = 0.05;
    return p;
  }
  LlmResponse call(const LlmModelConfig& m, RetryPolicy p = fast()) {
    std::atomic<bool> cancel{false};
    return LlmClient(p).complete(m, {"system text", "user text"}, cancel);
  }
  test::FakeLlmServer server;
};

TEST_F(LlmClientTest, OpenAiAnswerWithReasoningAndUsage) {
  test::FakeReply reply = test::FakeReply::answer("the answer");
  reply.reasoning = "thinking it over";
  server.push(reply);
  const LlmResponse r = call(model());
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.content, "the answer");
  EXPECT_EQ(r.reasoning, "thinking it over");
  EXPECT_EQ(r.tokens_in, 3000);
  EXPECT_EQ(r.tokens_out, 800);
  EXPECT_FALSE(r.truncated);
  const auto req = server.requests().at(0);
  EXPECT_EQ(req.path, "/v1/chat/completions");
  EXPECT_NE(req.headers.find(std::string("Authorization: Bearer ") + kKey), std::string::npos);
  const auto body = nlohmann::json::parse(req.body);
  EXPECT_EQ(body["model"], "fake-model");
  EXPECT_EQ(body["messages"][0]["role"], "system");
  EXPECT_EQ(body["messages"][1]["content"], "user text");
  EXPECT_EQ(body["max_tokens"], 1000);
  EXPECT_EQ(body.dump().find(kKey), std::string::npos);
}

TEST_F(LlmClientTest, AnthropicAnswerWithThinkingBlock) {
  test::FakeReply reply = test::FakeReply::answer("claude says");
  reply.reasoning = "hmm";
  server.push(reply);
  LlmModelConfig m = model(LlmProvider::kAnthropic);
  m.reasoning_effort = "low";
  const LlmResponse r = call(m);
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.content, "claude says");
  EXPECT_EQ(r.reasoning, "hmm");
  const auto req = server.requests().at(0);
  EXPECT_EQ(req.path, "/v1/messages");
  EXPECT_NE(req.headers.find(std::string("x-api-key: ") + kKey), std::string::npos);
  EXPECT_NE(req.headers.find("anthropic-version: 2023-06-01"), std::string::npos);
  const auto body = nlohmann::json::parse(req.body);
  EXPECT_EQ(body["system"], "system text");
  EXPECT_EQ(body["thinking"]["type"], "enabled");
  EXPECT_GT(body["max_tokens"].get<int>(), body["thinking"]["budget_tokens"].get<int>());
}

TEST_F(LlmClientTest, OpenAiCloudGetsMaxCompletionTokens) {
  LlmModelConfig m = model();
  m.base_url = "https://api.openai.com/v1";
  m.reasoning_effort = "minimal";
  const auto body = nlohmann::json::parse(build_request_body(m, {"s", "u"}));
  EXPECT_EQ(body["max_completion_tokens"], 1000);
  EXPECT_FALSE(body.contains("max_tokens"));
  EXPECT_EQ(body["reasoning_effort"], "minimal");
}

TEST_F(LlmClientTest, RateLimitHonoursRetryAfter) {
  server.push(test::FakeReply::error(429, R"({"error":{"message":"slow down"}})", {{"Retry-After", "1"}}));
  server.push(test::FakeReply::answer("after the wait"));
  const LlmResponse r = call(model());
  ASSERT_TRUE(r.ok()) << r.message;
  ASSERT_EQ(r.attempts.size(), 2u);
  EXPECT_EQ(r.attempts[0].status, LlmStatus::kRateLimited);
  const auto reqs = server.requests();
  EXPECT_GE(reqs[1].time_s - reqs[0].time_s, 0.95);  // waited Retry-After, not the 10 ms backoff
}

TEST_F(LlmClientTest, ServerErrorsAreRetriedThenSucceed) {
  server.push(test::FakeReply::error(500, R"({"error":{"message":"internal"}})"));
  server.push(test::FakeReply::error(529, R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})"));
  server.push(test::FakeReply::answer("third time"));
  const LlmResponse r = call(model());
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.attempts.size(), 3u);
  EXPECT_EQ(server.request_count(), 3);
}

TEST_F(LlmClientTest, RetriesStopAtMaxAttempts) {
  for (int i = 0; i < 3; ++i) server.push(test::FakeReply::error(503, "<html><body>Service Unavailable</body></html>"));
  const LlmResponse r = call(model(), fast(3));
  EXPECT_EQ(r.status, LlmStatus::kServerError);
  EXPECT_EQ(server.request_count(), 3);
  EXPECT_NE(r.message.find("non-JSON body"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("3 attempts"), std::string::npos) << r.message;
}

struct ClientErrorCase {
  int status;
  const char* fix;
};
class LlmClientErrorTest : public LlmClientTest, public ::testing::WithParamInterface<ClientErrorCase> {};

TEST_P(LlmClientErrorTest, NotRetriedAndSaysWhatToFix) {
  // The server echoes the key, as some do: the message must not.
  server.push(test::FakeReply::error(GetParam().status, std::string(R"({"error":{"message":"bad key )") + kKey + "\"}}"));
  const LlmResponse r = call(model());
  EXPECT_EQ(r.status, LlmStatus::kClientError);
  EXPECT_EQ(server.request_count(), 1);
  EXPECT_NE(r.message.find(GetParam().fix), std::string::npos) << r.message;
  EXPECT_EQ(r.message.find(kKey), std::string::npos) << r.message;
  EXPECT_EQ(r.attempts.at(0).response.find(kKey), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Statuses, LlmClientErrorTest,
                         ::testing::Values(ClientErrorCase{401, "ADRS_TEST_LLM_KEY was rejected"},
                                           ClientErrorCase{403, "may not use model 'fake-model'"},
                                           ClientErrorCase{404, "check base_url"},
                                           ClientErrorCase{400, "check the model name 'fake-model'"}));

TEST_F(LlmClientTest, SlowResponsePastTheTimeoutIsRetried) {
  test::FakeReply slow = test::FakeReply::answer("too late");
  slow.delay_s = 1.5;
  server.push(slow);
  server.push(test::FakeReply::answer("in time"));
  LlmModelConfig m = model();
  m.timeout_s = 0.3;
  const LlmResponse r = call(m);
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.attempts.at(0).status, LlmStatus::kTimeout);
  EXPECT_EQ(r.content, "in time");
}

TEST_F(LlmClientTest, DroppedConnectionsAreRetried) {
  test::FakeReply drop;
  drop.drop_before_answer = true;
  test::FakeReply mid = test::FakeReply::answer("cut in the middle of the body");
  mid.drop_after_bytes = 20;
  server.push(drop);
  server.push(mid);
  server.push(test::FakeReply::answer("whole"));
  const LlmResponse r = call(model());
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.attempts.at(0).status, LlmStatus::kConnection);
  EXPECT_EQ(r.attempts.at(1).status, LlmStatus::kConnection);
}

TEST_F(LlmClientTest, TruncatedJsonIsABadResponseAndRetried) {
  test::FakeReply cut = test::FakeReply::answer("short");
  cut.cut_body_at = 40;
  server.push(cut);
  server.push(cut);
  const LlmResponse r = call(model(), fast(2));
  EXPECT_EQ(r.status, LlmStatus::kBadResponse);
  EXPECT_EQ(server.request_count(), 2);
  EXPECT_NE(r.message.find("not JSON"), std::string::npos) << r.message;
}

TEST_F(LlmClientTest, HugeBodyIsRefusedNotRead) {
  test::FakeReply huge = test::FakeReply::answer("x");
  huge.pad_bytes = 3u << 20;
  server.push(huge);
  RetryPolicy p = fast();
  p.max_body_bytes = 1u << 20;
  const LlmResponse r = call(model(), p);
  EXPECT_EQ(r.status, LlmStatus::kTooLarge);
  EXPECT_EQ(server.request_count(), 1);
}

TEST_F(LlmClientTest, LengthFinishIsKeptAndMarkedTruncated) {
  for (LlmProvider p : {LlmProvider::kOpenAi, LlmProvider::kAnthropic}) {
    test::FakeReply cut = test::FakeReply::answer("<<<<<<< SEARCH\n  int a");
    cut.truncated = true;
    server.push(cut);
    const LlmResponse r = call(model(p));
    ASSERT_TRUE(r.ok()) << r.message;
    EXPECT_TRUE(r.truncated);
    EXPECT_EQ(r.content, "<<<<<<< SEARCH\n  int a");
  }
}

TEST_F(LlmClientTest, EmptyAnswersAndRefusals) {
  test::FakeReply empty;
  empty.reasoning = "only thoughts";
  server.push(empty);
  LlmResponse r = call(model());
  EXPECT_EQ(r.status, LlmStatus::kEmpty);
  EXPECT_NE(r.message.find("only reasoned"), std::string::npos);
  test::FakeReply refusal;
  refusal.refusal = "I can't help with that.";
  server.push(refusal);
  r = call(model());
  EXPECT_EQ(r.status, LlmStatus::kRefused);
  server.push(refusal);
  r = call(model(LlmProvider::kAnthropic));
  EXPECT_EQ(r.status, LlmStatus::kRefused);
  EXPECT_EQ(server.request_count(), 3);  // none of these is retried
}

TEST_F(LlmClientTest, MissingKeyVariableSendsNothing) {
  LlmModelConfig m = model();
  m.api_key_env = "ADRS_TEST_NO_SUCH_VARIABLE";
  const LlmResponse r = call(m);
  EXPECT_EQ(r.status, LlmStatus::kMissingKey);
  EXPECT_NE(r.message.find("ADRS_TEST_NO_SUCH_VARIABLE"), std::string::npos);
  EXPECT_EQ(server.request_count(), 0);
}

TEST_F(LlmClientTest, NoKeyForLocalServers) {
  server.push(test::FakeReply::answer("local"));
  LlmModelConfig m = model();
  m.api_key_env = "";
  ASSERT_TRUE(call(m).ok());
  EXPECT_EQ(server.requests().at(0).headers.find("Authorization"), std::string::npos);
}

TEST_F(LlmClientTest, ConnectionRefusedNamesTheUrl) {
  LlmModelConfig m = model();
  m.base_url = "http://127.0.0.1:1/v1";
  const LlmResponse r = call(m, fast(2));
  EXPECT_EQ(r.status, LlmStatus::kConnection);
  EXPECT_NE(r.message.find("127.0.0.1:1"), std::string::npos) << r.message;
}

TEST_F(LlmClientTest, CancelAbortsAnInFlightRequest) {
  test::FakeReply slow = test::FakeReply::answer("never");
  slow.delay_s = 3;
  server.push(slow);
  std::atomic<bool> cancel{false};
  std::thread canceller([&] {
    while (server.request_count() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    cancel = true;
  });
  const LlmResponse r = LlmClient(fast()).complete(model(), {"s", "u"}, cancel);
  canceller.join();
  EXPECT_EQ(r.status, LlmStatus::kCancelled);
  EXPECT_EQ(r.attempts.size(), 1u);
}

TEST_F(LlmClientTest, SeveralRequestsInFlightAtOnce) {
  server.set_default([](const test::RecordedRequest&, int) {
    test::FakeReply r = test::FakeReply::answer("parallel");
    r.delay_s = 0.5;
    return r;
  });
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&] { ok += call(model()).ok() ? 1 : 0; });
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 4);
  const auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 4u);
  // All four arrived before the first could have been answered: they were in flight together.
  double first = reqs[0].time_s, last = reqs[0].time_s;
  for (const auto& q : reqs) first = std::min(first, q.time_s), last = std::max(last, q.time_s);
  EXPECT_LT(last - first, 0.5);
}

}  // namespace
}  // namespace adrs

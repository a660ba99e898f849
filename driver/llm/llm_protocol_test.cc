// llm_protocol: the request bodies and answer parsing of OpenAI Chat Completions and Anthropic
// Messages, without a network. Malformed answers are bad responses whose message says what was
// expected; HTTP errors say what to fix. (tests/llm_client_test.cc drives the same code over HTTP.)
#include "driver/llm/llm_protocol.h"

#include <gtest/gtest.h>

namespace adrs {
namespace {

LlmModelConfig openai_model() {
  LlmModelConfig m;
  m.name = "local-model";
  m.provider = LlmProvider::kOpenAi;
  m.base_url = "http://127.0.0.1:8000/v1";
  m.max_tokens = 1000;
  return m;
}

LlmModelConfig anthropic_model() {
  LlmModelConfig m;
  m.name = "claude-test";
  m.provider = LlmProvider::kAnthropic;
  m.base_url = "https://api.anthropic.com/v1";
  m.api_key_env = "ANTHROPIC_API_KEY";
  m.max_tokens = 1000;
  return m;
}

LlmRequest prompt(const std::string& system, const std::string& user) {
  LlmRequest request;
  request.system = system;
  request.user = user;
  return request;
}

nlohmann::json body_of(const LlmModelConfig& model, const LlmRequest& request) {
  return nlohmann::json::parse(build_request_body(model, request));
}

struct Parsed {
  LlmStatus status;
  LlmResponse response;
  std::string message;
};

Parsed parse(const LlmModelConfig& model, const std::string& body) {
  Parsed p;
  p.status = llm_protocol::parse_answer(model, body, &p.response, &p.message);
  return p;
}

TEST(LlmRequestBody, OpenAiPutsTheSystemPromptFirstAndUsesMaxTokensForCompatibleServers) {
  LlmModelConfig m = openai_model();
  m.temperature = 0.7;
  const nlohmann::json b = body_of(m, prompt("be brief", "improve the masker"));
  EXPECT_EQ(b["model"], "local-model");
  EXPECT_EQ(b["messages"], nlohmann::json::parse(R"([{"role":"system","content":"be brief"},{"role":"user","content":"improve the masker"}])"));
  EXPECT_EQ(b["max_tokens"], 1000);
  EXPECT_FALSE(b.contains("max_completion_tokens"));
  EXPECT_EQ(b["temperature"], 0.7);
  EXPECT_FALSE(b.contains("tools"));
}

TEST(LlmRequestBody, OpenAisOwnApiGetsMaxCompletionTokensAndReasoningEffort) {
  LlmModelConfig m = openai_model();
  m.base_url = "https://api.openai.com/v1";
  m.reasoning_effort = "low";
  const nlohmann::json b = body_of(m, prompt("s", "u"));
  EXPECT_EQ(b["max_completion_tokens"], 1000);
  EXPECT_FALSE(b.contains("max_tokens"));
  EXPECT_EQ(b["reasoning_effort"], "low");
  EXPECT_FALSE(b.contains("temperature"));
}

TEST(LlmRequestBody, AnthropicHasATopLevelSystemAndCapsTemperatureAtOne) {
  LlmModelConfig m = anthropic_model();
  m.temperature = 1.5;
  const nlohmann::json b = body_of(m, prompt("be brief", "improve"));
  EXPECT_EQ(b["system"], "be brief");
  EXPECT_EQ(b["messages"], nlohmann::json::parse(R"([{"role":"user","content":"improve"}])"));
  EXPECT_EQ(b["max_tokens"], 1000);
  EXPECT_EQ(b["temperature"], 1.0);
  EXPECT_FALSE(b.contains("thinking"));
}

TEST(LlmRequestBody, AnthropicThinkingGetsABudgetBelowMaxTokensAndNoTemperature) {
  LlmModelConfig m = anthropic_model();
  m.temperature = 0.5;
  m.reasoning_effort = "medium";
  const nlohmann::json b = body_of(m, prompt("s", "u"));
  EXPECT_EQ(b["thinking"], nlohmann::json::parse(R"({"type":"enabled","budget_tokens":8000})"));
  EXPECT_EQ(b["max_tokens"], 8000 + 4096);  // raised above the budget
  EXPECT_FALSE(b.contains("temperature"));
}

TEST(LlmRequestBody, AConversationReplacesTheUserTextAndCarriesTheTools) {
  LlmRequest request = prompt("s", "ignored");
  request.messages = nlohmann::json::parse(R"([{"role":"user","content":"first"},{"role":"assistant","content":"second"}])");
  request.tools = nlohmann::json::parse(R"([{"name":"evaluate"}])");
  const nlohmann::json openai = body_of(openai_model(), request);
  ASSERT_EQ(openai["messages"].size(), 3u);
  EXPECT_EQ(openai["messages"][0]["role"], "system");
  EXPECT_EQ(openai["messages"][2]["content"], "second");
  EXPECT_EQ(openai["tools"], request.tools);
  const nlohmann::json anthropic = body_of(anthropic_model(), request);
  EXPECT_EQ(anthropic["messages"], request.messages);
  EXPECT_EQ(anthropic["tools"], request.tools);
}

TEST(LlmRequestBody, EndpointsFollowTheProvider) {
  EXPECT_EQ(endpoint_url(openai_model()), "http://127.0.0.1:8000/v1/chat/completions");
  EXPECT_EQ(endpoint_url(anthropic_model()), "https://api.anthropic.com/v1/messages");
}

TEST(LlmAnswer, OpenAiContentReasoningFinishReasonAndUsageAreRead) {
  const Parsed p = parse(openai_model(), R"({"choices":[{"message":{"content":"new code","reasoning_content":"thought"},
      "finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":34}})");
  EXPECT_EQ(p.status, LlmStatus::kOk);
  EXPECT_EQ(p.response.content, "new code");
  EXPECT_EQ(p.response.reasoning, "thought");
  EXPECT_EQ(p.response.finish_reason, "stop");
  EXPECT_FALSE(p.response.truncated);
  EXPECT_EQ(p.response.tokens_in, 12);
  EXPECT_EQ(p.response.tokens_out, 34);
}

TEST(LlmAnswer, OpenAiToolCallsKeepTheirArgumentsAsText) {
  const Parsed p = parse(openai_model(), R"({"choices":[{"message":{"content":null,"tool_calls":[
      {"id":"c1","type":"function","function":{"name":"evaluate","arguments":"{\"source\": \"x\"}"}},
      {"id":"c2","type":"function","function":{"name":"read","arguments":{"path":"a"}}}]},"finish_reason":"tool_calls"}]})");
  EXPECT_EQ(p.status, LlmStatus::kOk);
  ASSERT_EQ(p.response.tool_calls.size(), 2u);
  EXPECT_EQ(p.response.tool_calls[0].id, "c1");
  EXPECT_EQ(p.response.tool_calls[0].name, "evaluate");
  EXPECT_EQ(p.response.tool_calls[0].arguments, "{\"source\": \"x\"}");
  EXPECT_EQ(p.response.tool_calls[1].arguments, R"({"path":"a"})");
  EXPECT_TRUE(p.response.assistant_message["content"].is_null());
  EXPECT_EQ(p.response.assistant_message["tool_calls"].size(), 2u);
}

TEST(LlmAnswer, AnthropicTextBlocksAreJoinedAndThinkingIsReasoning) {
  const Parsed p = parse(anthropic_model(), R"({"content":[{"type":"thinking","thinking":"hmm"},{"type":"text","text":"part one, "},
      {"type":"text","text":"part two"}],"stop_reason":"end_turn","usage":{"input_tokens":5,"output_tokens":6}})");
  EXPECT_EQ(p.status, LlmStatus::kOk);
  EXPECT_EQ(p.response.content, "part one, part two");
  EXPECT_EQ(p.response.reasoning, "hmm");
  EXPECT_EQ(p.response.tokens_in, 5);
  EXPECT_EQ(p.response.tokens_out, 6);
}

TEST(LlmAnswer, AnthropicToolUseInputIsDumpedBackToText) {
  const Parsed p = parse(anthropic_model(), R"({"content":[{"type":"tool_use","id":"t1","name":"evaluate","input":{"k":1}}],
      "stop_reason":"tool_use"})");
  EXPECT_EQ(p.status, LlmStatus::kOk);
  ASSERT_EQ(p.response.tool_calls.size(), 1u);
  EXPECT_EQ(p.response.tool_calls[0].name, "evaluate");
  EXPECT_EQ(p.response.tool_calls[0].arguments, R"({"k":1})");
}

TEST(LlmAnswer, HittingTheTokenLimitIsMarkedTruncatedForBothProviders) {
  EXPECT_TRUE(parse(openai_model(), R"({"choices":[{"message":{"content":"cut"},"finish_reason":"length"}]})").response.truncated);
  EXPECT_TRUE(parse(anthropic_model(), R"({"content":[{"type":"text","text":"cut"}],"stop_reason":"max_tokens"})").response.truncated);
}

TEST(LlmAnswer, WithoutUsageTheOutputTokensAreEstimatedFromTheText) {
  const Parsed p = parse(openai_model(), R"({"choices":[{"message":{"content":"0123456789abcdef"}}]})");
  EXPECT_EQ(p.status, LlmStatus::kOk);
  EXPECT_EQ(p.response.tokens_out, 4);  // 16 bytes / 4
}

TEST(LlmAnswer, ABodyThatIsNotJsonIsABadResponseThatQuotesItsStart) {
  const std::string body = "<html>\n502 Bad Gateway</html>";
  const Parsed p = parse(openai_model(), body);
  EXPECT_EQ(p.status, LlmStatus::kBadResponse);
  EXPECT_EQ(p.message, "the server's answer is not JSON (" + std::to_string(body.size()) + " bytes, starting '<html> 502 Bad Gateway</html>'): truncated, or "
                       "base_url points at something that is not an LLM API");
  EXPECT_EQ(parse(anthropic_model(), "[1, 2]").status, LlmStatus::kBadResponse);
  EXPECT_EQ(parse(openai_model(), R"({"choices":[{"message":)").status, LlmStatus::kBadResponse);
}

TEST(LlmAnswer, TheOtherProvidersShapeIsABadResponseThatAsksAboutBaseUrl) {
  Parsed p = parse(openai_model(), R"({"content":[{"type":"text","text":"hi"}]})");
  EXPECT_EQ(p.status, LlmStatus::kBadResponse);
  EXPECT_EQ(p.message, "the answer has no choices[0] (not an OpenAI Chat Completions response; is base_url right?)");
  p = parse(anthropic_model(), R"({"choices":[{"message":{"content":"hi"}}]})");
  EXPECT_EQ(p.status, LlmStatus::kBadResponse);
  EXPECT_EQ(p.message, "the answer has no content array (not an Anthropic Messages response; is base_url right?)");
  EXPECT_EQ(parse(openai_model(), R"({"choices":[]})").status, LlmStatus::kBadResponse);
  EXPECT_EQ(parse(openai_model(), R"({"choices":["text"]})").status, LlmStatus::kBadResponse);
}

TEST(LlmAnswer, ABlankAnswerIsEmptyAndSaysWhetherTheModelOnlyReasoned) {
  Parsed p = parse(openai_model(), R"({"choices":[{"message":{"content":"  \n"},"finish_reason":"stop"}]})");
  EXPECT_EQ(p.status, LlmStatus::kEmpty);
  EXPECT_EQ(p.message, "the model's answer is empty");
  p = parse(anthropic_model(), R"({"content":[{"type":"thinking","thinking":"long thoughts"}],"stop_reason":"end_turn"})");
  EXPECT_EQ(p.status, LlmStatus::kEmpty);
  EXPECT_EQ(p.message, "the model's answer is empty (it only reasoned)");
}

TEST(LlmAnswer, RefusalsAreReportedWithTheModelsWords) {
  Parsed p = parse(openai_model(), R"({"choices":[{"message":{"content":"","refusal":"I can't\nhelp with that"}}]})");
  EXPECT_EQ(p.status, LlmStatus::kRefused);
  EXPECT_EQ(p.message, "the model refused: I can't help with that");
  p = parse(openai_model(), R"({"choices":[{"message":{"content":"x"},"finish_reason":"content_filter"}]})");
  EXPECT_EQ(p.message, "the model refused: content_filter");
  p = parse(anthropic_model(), R"({"content":[],"stop_reason":"refusal"})");
  EXPECT_EQ(p.status, LlmStatus::kRefused);
  EXPECT_EQ(p.message, "the model refused (stop_reason refusal)");
}

TEST(LlmErrors, TheServersTextIsTakenFromTheUsualFields) {
  using llm_protocol::server_error_text;
  EXPECT_EQ(server_error_text(R"({"error":{"message":"bad key"}})"), "bad key");
  EXPECT_EQ(server_error_text(R"({"error":"overloaded"})"), "overloaded");
  EXPECT_EQ(server_error_text(R"({"message":"no such model"})"), "no such model");
  EXPECT_EQ(server_error_text(R"({"detail":"Not Found"})"), "Not Found");
  EXPECT_EQ(server_error_text(""), "empty body");
  EXPECT_EQ(server_error_text("<h1>Bad\tGateway</h1>\n"), "non-JSON body: <h1>Bad Gateway</h1>");
  EXPECT_EQ(server_error_text(std::string(400, 'x')), "non-JSON body: " + std::string(200, 'x') + "...");
}

TEST(LlmErrors, HttpStatusMessagesSayWhatToFix) {
  const LlmModelConfig m = anthropic_model();
  const std::string head = "HTTP 401 from https://api.anthropic.com/v1/messages (bad key); ";
  EXPECT_EQ(llm_protocol::http_error_message(m, 401, R"({"error":{"message":"bad key"}})"),
            head + "the key in $ANTHROPIC_API_KEY was rejected: set api_key_env to the variable that holds a valid key for this server");
  EXPECT_NE(llm_protocol::http_error_message(m, 404, "").find("check base_url"), std::string::npos);
  EXPECT_NE(llm_protocol::http_error_message(m, 429, "").find("lower --parallel or wait"), std::string::npos);
  EXPECT_NE(llm_protocol::http_error_message(m, 503, "").find("the server failed; retries exhausted"), std::string::npos);
  EXPECT_NE(llm_protocol::http_error_message(openai_model(), 403, "").find("no key (api_key_env is empty) may not use model 'local-model'"),
            std::string::npos);
}

TEST(LlmErrors, RetryAfterIsSecondsAndAnHttpDateIsIgnored) {
  using llm_protocol::parse_retry_after;
  EXPECT_EQ(parse_retry_after(" 7\r\n"), 7.0);
  EXPECT_EQ(parse_retry_after("1.5"), 1.5);
  EXPECT_EQ(parse_retry_after(""), -1);
  EXPECT_EQ(parse_retry_after("-3"), -1);
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), -1);
}

}  // namespace
}  // namespace adrs

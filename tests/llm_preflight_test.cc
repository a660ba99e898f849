// A broken LLM setup costs seconds, not a budget: the pre-flight (key variable, one small request
// per model) refuses the run before its directory exists; during a run, proposer errors of one
// kind in a row stop it with a non-zero exit, and resume continues once the cause is fixed.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "driver/llm/llm_config.h"
#include "driver/run/run_config.h"
#include "driver/run/run_db.h"
#include "tests/fake_llm_server.h"
#include "tests/test_util.h"

namespace adrs {
namespace {

namespace fs = std::filesystem;
constexpr const char* kKeyVar = "ADRS_TEST_PREFLIGHT_KEY";

std::string diff_answer(int i) {
  return "<<<<<<< SEARCH\n  const int n = row.num_keys;\n=======\n  const int n = row.num_keys;\n  const int extra" +
         std::to_string(i) + " = " + std::to_string(i) + ";\n  (void)extra" + std::to_string(i) + ";\n>>>>>>> REPLACE\n";
}

// A port on 127.0.0.1 that nothing listens on (bound, then closed).
int closed_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t size = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &size);
  ::close(fd);
  return ntohs(addr.sin_port);
}

class LlmPreflightTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (fs::temp_directory_path() / ("adrs-preflight-" + std::to_string(::getpid()) + "-" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name())).string();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    ::setenv(kKeyVar, "sk-preflight-test", 1);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // An LLM config for one model at `base_url`, written to dir_/llm.toml.
  std::string write_config(const std::string& base_url, const std::string& extra_stop = "") const {
    std::ofstream(dir_ + "/llm.toml") << "[run]\nname = \"pf\"\n[evaluation]\nworkload = \"smoke\"\n[search]\nparallel = 1\nislands = 1\n"
                                      << "[proposer]\nproposer = \"llm\"\n[stop]\nmax_candidates = 12\n" << extra_stop
                                      << "[llm]\nmax_attempts = 1\n[[llm.models]]\nname = \"fake\"\nprovider = \"openai\"\nbase_url = \""
                                      << base_url << "\"\napi_key_env = \"" << kKeyVar << "\"\ntimeout = 5\n";
    return dir_ + "/llm.toml";
  }
  test::CommandOutput run(const std::string& extra = "") const {
    return test::run_adrs("run --config " + dir_ + "/llm.toml --runs-dir " + dir_ + " --cache-dir " + test::binary_dir() +
                          "/test-cache/preflight --quiet " + extra);
  }
  static double seconds_of(const std::function<void()>& body) {
    const auto start = std::chrono::steady_clock::now();
    body();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  std::string dir_;
};

TEST_F(LlmPreflightTest, AnUnsetKeyVariableFailsInSecondsBeforeTheRunExistsAndNamesTheVariable) {
  test::FakeLlmServer server;
  write_config(server.base_url());
  ::unsetenv(kKeyVar);
  test::CommandOutput out;
  const double seconds = seconds_of([&] { out = run(); });
  EXPECT_NE(out.exit_code, 0);
  EXPECT_LT(seconds, 5.0);  // the acceptance bound: a missing key is known without any request
  EXPECT_NE(out.err.find(kKeyVar), std::string::npos) << out.err;
  EXPECT_NE(out.err.find("export"), std::string::npos) << out.err;
  EXPECT_FALSE(fs::exists(dir_ + "/pf")) << "a refused run must leave no directory";
  EXPECT_EQ(server.preflight_count() + server.request_count(), 0) << "no request without the key";
}

TEST_F(LlmPreflightTest, AServerThatIsDownFailsInSecondsBeforeTheRunExistsAndNamesTheUrl) {
  const std::string url = "http://127.0.0.1:" + std::to_string(closed_port()) + "/v1";
  write_config(url);
  test::CommandOutput out;
  const double seconds = seconds_of([&] { out = run(); });
  EXPECT_NE(out.exit_code, 0);
  EXPECT_LT(seconds, 5.0);
  EXPECT_NE(out.err.find(url), std::string::npos) << out.err;
  EXPECT_NE(out.err.find("no run was created"), std::string::npos) << out.err;
  EXPECT_FALSE(fs::exists(dir_ + "/pf"));
}

TEST_F(LlmPreflightTest, ARejectedKeyFailsThePreflightWithTheFix) {
  test::FakeLlmServer server;
  server.set_preflight_reply(test::FakeReply::error(401, R"({"error":{"message":"Incorrect API key provided"}})"));
  write_config(server.base_url());
  const auto out = run();
  EXPECT_EQ(out.exit_code, 2) << out.err;
  EXPECT_NE(out.err.find("401"), std::string::npos) << out.err;
  EXPECT_NE(out.err.find(kKeyVar), std::string::npos) << out.err;
  EXPECT_EQ(out.err.find("sk-preflight-test"), std::string::npos) << "the key itself is never printed";
  EXPECT_FALSE(fs::exists(dir_ + "/pf"));
}

TEST_F(LlmPreflightTest, AServerErrorAtPreflightIsAWarningAndTheRunGoesOn) {
  test::FakeLlmServer server;
  server.set_preflight_reply(test::FakeReply::error(503, "<html>busy</html>"));
  server.set_default([](const test::RecordedRequest&, int index) { return test::FakeReply::answer(diff_answer(index)); });
  write_config(server.base_url());
  const auto out = test::run_adrs("run --config " + dir_ + "/llm.toml --runs-dir " + dir_ + " --max-candidates 3 --cache-dir " +
                                  test::binary_dir() + "/test-cache/preflight");
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_NE(out.err.find("warning"), std::string::npos) << out.err;
  EXPECT_EQ(server.preflight_count(), 1);
  EXPECT_TRUE(fs::exists(dir_ + "/pf/run.db"));
}

TEST_F(LlmPreflightTest, PreflightFalseSkipsTheRequestButStillChecksTheKey) {
  test::FakeLlmServer server;
  server.set_default([](const test::RecordedRequest&, int index) { return test::FakeReply::answer(diff_answer(index)); });
  write_config(server.base_url());
  std::string text = test::read_file(dir_ + "/llm.toml");
  text.replace(text.find("max_attempts = 1"), 16, "max_attempts = 1\npreflight = false");
  std::ofstream(dir_ + "/llm.toml") << text;
  ::unsetenv(kKeyVar);
  EXPECT_NE(run().err.find(kKeyVar), std::string::npos);
  ::setenv(kKeyVar, "sk-preflight-test", 1);
  EXPECT_EQ(run("--max-candidates 2").exit_code, 0);
  EXPECT_EQ(server.preflight_count(), 0);
}

TEST_F(LlmPreflightTest, ProposerErrorsOfOneKindInARowStopTheRunAndResumeContinuesAfterTheFix) {
  test::FakeLlmServer server;
  std::atomic<bool> fixed{false};
  server.set_default([&](const test::RecordedRequest&, int index) {
    return fixed ? test::FakeReply::answer(diff_answer(index)) : test::FakeReply::error(500, R"({"error":"down for maintenance"})");
  });
  write_config(server.base_url(), "max_proposer_errors = 4\n");
  const auto out = run("--json");
  EXPECT_EQ(out.exit_code, 1) << out.err;
  EXPECT_NE(out.err.find("4 proposer errors in a row"), std::string::npos) << out.err;
  EXPECT_NE(out.err.find("server_error"), std::string::npos) << out.err;
  EXPECT_NE(out.err.find("adrs resume"), std::string::npos) << out.err;
  const nlohmann::json status = nlohmann::json::parse(test::run_adrs("status " + dir_ + "/pf --json").out, nullptr, false);
  EXPECT_EQ(status.value("stop_reason", ""), "proposer_errors") << status.dump();
  const int64_t stopped_at = status["candidates"]["total"].get<int64_t>();
  EXPECT_LT(stopped_at, 12) << "the run stopped before its budget";
  EXPECT_EQ(server.request_count(), 4) << "each failed proposal is one request; no fifth";

  fixed = true;
  const auto resumed = test::run_adrs("resume " + dir_ + "/pf --quiet --json");
  EXPECT_EQ(resumed.exit_code, 0) << resumed.err;
  const nlohmann::json after = nlohmann::json::parse(resumed.out, nullptr, false);
  EXPECT_EQ(after["candidates"]["total"], 12) << resumed.out;
}

TEST_F(LlmPreflightTest, AnLlmTableWithTheOfflineProposerIsAnErrorNamingBothKeys) {
  test::FakeLlmServer server;
  write_config(server.base_url());
  const auto out = run("--proposer offline");
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_NE(out.err.find("[llm]"), std::string::npos) << out.err;
  EXPECT_NE(out.err.find("proposer.proposer"), std::string::npos) << out.err;
  EXPECT_FALSE(fs::exists(dir_ + "/pf"));
}

TEST(ExampleLlmConfigs, EveryShippedLlmConfigParsesAndNamesItsKeyVariable) {
  for (const char* name : {"openai", "anthropic", "local_llm"}) {
    const std::string path = test::source_dir() + "/runs/" + name + ".toml";
    RunConfig config;
    ASSERT_TRUE(load_config_file(path, &config).ok()) << path;
    EXPECT_TRUE(config.validate().ok()) << path << ": " << config.validate().message();
    EXPECT_EQ(config.proposer, "llm") << path;
    LlmConfig llm;
    const Status s = parse_llm_config(config.llm, &llm);
    ASSERT_TRUE(s.ok()) << path << ": " << s.message();
    ASSERT_FALSE(llm.models.empty());
    if (std::string(name) == "local_llm") EXPECT_EQ(llm.models[0].api_key_env, "") << "a local server needs no key";
    else EXPECT_FALSE(llm.models[0].api_key_env.empty());
  }
}

}  // namespace
}  // namespace adrs

// End to end: `adrs run` with the LLM proposer against the fake server. Every fault is injected
// once while the run proceeds; the run must reach its candidate budget, store every proposal
// (failed ones with the reason), keep lineage, and never let the API key out of the header.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "driver/run/run_db.h"
#include "tests/fake_llm_server.h"
#include "tests/test_util.h"

namespace adrs {
namespace {

namespace fs = std::filesystem;
constexpr const char* kKeyVar = "ADRS_TEST_E2E_KEY";
constexpr const char* kKey = "sk-adrs-e2e-SECRET-9d41b7";

// A diff that applies to the starter and to every answer below (they all keep this line), and
// makes a distinct candidate per index.
std::string diff_answer(int i) {
  return "Adding a constant.\n<<<<<<< SEARCH\n  const int n = row.num_keys;\n=======\n  const int n = row.num_keys;\n"
         "  const int extra" + std::to_string(i) + " = " + std::to_string(i) + ";\n  (void)extra" + std::to_string(i) +
         ";\n>>>>>>> REPLACE\n";
}

std::string rewrite_answer(int i) {
  return "```cpp\n// EVOLVE-BLOCK-START\nvoid select(const adrs::Row& row, adrs::Selection& out) {\n"
         "  const int n = row.num_keys;\n  const int w = std::max(1, static_cast<int>(0.0" + std::to_string(3 + i % 5) +
         " * n));\n  for (int i = 0; i < std::min(w, n); ++i) out.add(i);\n  for (int i = std::max(w, n - w); i < n; ++i) out.add(i);\n}\n"
         "// EVOLVE-BLOCK-END\n```\n";
}

// A masker that would keep every key if the key variable reached the worker: its density tells.
const char* kEnvProbe =
    "```cpp\n// EVOLVE-BLOCK-START\n#include <cstdlib>\nvoid select(const adrs::Row& row, adrs::Selection& out) {\n"
    "  const int n = row.num_keys;\n  const bool leaked = std::getenv(\"ADRS_TEST_E2E_KEY\") != nullptr;\n"
    "  const int keep = leaked ? n : std::max(1, n / 20);\n  for (int i = n - keep; i < n; ++i) out.add(i);\n}\n"
    "// EVOLVE-BLOCK-END\n```\n";

test::FakeReply with(test::FakeReply r, const std::function<void(test::FakeReply&)>& change) {
  change(r);
  return r;
}

// One of each fault the client must survive; `echo` holds the key, as some servers echo it back.
std::vector<test::FakeReply> one_of_each_fault(const std::string& echo) {
  return {
      test::FakeReply::error(429, R"({"error":{"message":"rate"}})", {{"Retry-After", "0"}}),
      test::FakeReply::answer("<<<<<<< SEARCH\n  const int n = row.num_keys;\n>>>>>>> REPLACE\n"),  // malformed
      test::FakeReply::answer("<<<<<<< SEARCH\n#include <algorithm>\n=======\n#include <cmath>\n>>>>>>> REPLACE\n"),  // outside
      test::FakeReply::error(500, "<html>" + echo + "</html>"),
      with(test::FakeReply::answer("late"), [](auto& r) { r.delay_s = 3.6; }),  // past the 3 s timeout
      with(test::FakeReply{}, [](auto& r) { r.drop_before_answer = true; }),
      with(test::FakeReply::answer(diff_answer(99)), [](auto& r) { r.cut_body_at = 60; }),
      with(test::FakeReply::answer("x"), [](auto& r) { r.pad_bytes = 17u << 20; }),
      with(test::FakeReply{}, [](auto& r) { r.refusal = "no"; }),
      with(test::FakeReply::answer(diff_answer(98)), [](auto& r) { r.truncated = true; }),
      test::FakeReply::answer(kEnvProbe),
      test::FakeReply::error(401, "{\"error\":\"" + echo + "\"}"),
  };
}

// The run's config: one fake model, two attempts per proposal, a 3 s timeout. The timeout leaves
// room for the 17 MiB answer to arrive on a loaded machine (at 1 s it was sometimes a timeout
// rather than too_large under a load of 12 on 2 cores).
void write_e2e_config(const std::string& path, const std::string& base_url, int budget) {
  std::ofstream(path) << "[run]\nname = \"e2e\"\nseed = 3\n[evaluation]\nworkload = \"smoke\"\n"
                      << "[search]\nparallel = 2\nislands = 1\n[proposer]\nproposer = \"llm\"\n"
                      << "[stop]\nmax_candidates = " << budget << "\n"
                      << "[llm]\nmax_cost_usd = 5.0\nmax_attempts = 2\nretry_base_s = 0.01\nretry_max_s = 0.02\n"
                      << "[[llm.models]]\nname = \"fake-a\"\nprovider = \"openai\"\nbase_url = \"" << base_url
                      << "\"\napi_key_env = \"" << kKeyVar << "\"\nweight = 1\ninput_price_per_mtok = 1\n"
                      << "output_price_per_mtok = 10\ntimeout = 3\n";
}

// Every row finished, failures carry a reason and a message, enough were scored, and the
// environment probe saw no key.
void expect_rows_survived_the_faults(const std::vector<CandidateRow>& rows, int budget) {
  EXPECT_EQ(static_cast<int>(rows.size()), budget);
  std::set<std::string> failures;
  int evaluated = 0;
  for (const auto& r : rows) {
    EXPECT_TRUE(r.terminal()) << r.id << " " << r.status;
    if (r.id > 1 && r.status != CandidateStatus::kDuplicate) {
      EXPECT_TRUE(r.parent_id.has_value()) << r.id;
    }
    if (r.status == CandidateStatus::kFailed) {
      EXPECT_FALSE(r.failure.empty()) << r.id;
      EXPECT_FALSE(r.message.empty()) << r.id;
      failures.insert(r.failure);
    }
    // A behavioral duplicate was scored too (its first evaluation matched an earlier candidate's).
    if (r.status == CandidateStatus::kEvaluated || (r.status == CandidateStatus::kDuplicate && !r.behavior_hash.empty())) ++evaluated;
    if (r.source.find("leaked") != std::string::npos && r.density) {
      EXPECT_LT(*r.density, 0.5);  // the worker had no key
    }
  }
  EXPECT_GE(evaluated, budget / 3);
  EXPECT_TRUE(failures.count("patch:truncated")) << nlohmann::json(failures).dump();
  EXPECT_TRUE(failures.count("patch:outside_block")) << nlohmann::json(failures).dump();
}

void expect_every_fault_recorded(const RunDb& db) {
  std::vector<LlmCallRecord> calls;
  ASSERT_TRUE(db.list_llm_calls(&calls).ok());
  std::set<std::string> statuses;
  for (const auto& c : calls) statuses.insert(c.status);
  for (const char* s : {"ok", "http_429", "http_500", "timeout", "connection_error", "bad_response", "too_large", "refused", "truncated", "http_401"})
    EXPECT_TRUE(statuses.count(s)) << s << " not among " << nlohmann::json(statuses).dump();
}

TEST(LlmRunEndToEnd, EveryFaultInjectedTheRunReachesItsBudget) {
  const std::string dir = (fs::temp_directory_path() / ("adrs-llm-e2e-" + std::to_string(::getpid()))).string();
  fs::remove_all(dir);
  fs::create_directories(dir);
  ::setenv(kKeyVar, kKey, 1);
  test::FakeLlmServer server;
  // One of each fault, between good answers; afterwards good answers only.
  const std::vector<test::FakeReply> faults = one_of_each_fault(std::string("invalid key ") + kKey);
  server.set_default([&](const test::RecordedRequest&, int index) {
    if (index % 2 == 1 && index / 2 < static_cast<int>(faults.size())) return faults[index / 2];
    return test::FakeReply::answer(index % 3 == 0 ? rewrite_answer(index) : diff_answer(index));
  });
  const int budget = 28;
  write_e2e_config(dir + "/llm.toml", server.base_url(), budget);
  const auto run = test::run_adrs("run --config " + dir + "/llm.toml --runs-dir " + dir + " --cache-dir " + test::binary_dir() +
                                  "/test-cache/llm-e2e --quiet --json");
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;

  std::unique_ptr<RunDb> db;
  ASSERT_TRUE(RunDb::Open(dir + "/e2e/run.db", RunDb::Mode::kReadOnly, &db).ok());
  std::vector<CandidateRow> rows;
  ASSERT_TRUE(db->list_candidates(&rows, true).ok());
  expect_rows_survived_the_faults(rows, budget);
  expect_every_fault_recorded(*db);

  // The key: nowhere in the database, the run directory, the outputs of run / status / show.
  std::string everything = run.out + run.err + test::run_adrs("status " + dir + "/e2e --json").out;
  for (const auto& r : rows) everything += test::run_adrs("show " + dir + "/e2e " + std::to_string(r.id) + " --json").out;
  for (const auto& entry : fs::recursive_directory_iterator(dir))
    if (entry.is_regular_file()) everything += test::read_file(entry.path().string());
  EXPECT_EQ(everything.find(kKey), std::string::npos);
  EXPECT_NE(everything.find("fake-a"), std::string::npos);
  fs::remove_all(dir);
}

// llm.max_cost_usd ends the run: no new requests once the budget is spent, stop reason max_cost,
// spending within one request's cost of the limit, and no pile of failed candidates.
TEST(LlmRunEndToEnd, SpentBudgetStopsTheRun) {
  const std::string dir = (fs::temp_directory_path() / ("adrs-llm-budget-" + std::to_string(::getpid()))).string();
  fs::remove_all(dir);
  fs::create_directories(dir);
  ::setenv(kKeyVar, kKey, 1);
  test::FakeLlmServer server;
  server.set_default([&](const test::RecordedRequest&, int index) { return test::FakeReply::answer(diff_answer(index)); });
  const double limit = 0.05;
  std::ofstream(dir + "/llm.toml") << "[run]\nname = \"budget\"\nseed = 3\n[evaluation]\nworkload = \"smoke\"\n"
                                   << "[search]\nparallel = 2\nislands = 1\n[proposer]\nproposer = \"llm\"\n"
                                   << "[stop]\nmax_candidates = 60\n"
                                   << "[llm]\nmax_cost_usd = " << limit << "\n"
                                   << "[[llm.models]]\nname = \"fake-a\"\nprovider = \"openai\"\nbase_url = \"" << server.base_url()
                                   << "\"\napi_key_env = \"" << kKeyVar << "\"\nweight = 1\ninput_price_per_mtok = 1\n"
                                   << "output_price_per_mtok = 10\ntimeout = 5\nmax_tokens = 1000\n";
  const auto run = test::run_adrs("run --config " + dir + "/llm.toml --runs-dir " + dir + " --cache-dir " + test::binary_dir() +
                                  "/test-cache/llm-e2e --quiet --json");
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  const auto status = nlohmann::json::parse(test::run_adrs("status " + dir + "/budget --json").out);
  EXPECT_EQ(status["stop_reason"], "max_cost") << status.dump();

  std::unique_ptr<RunDb> db;
  ASSERT_TRUE(RunDb::Open(dir + "/budget/run.db", RunDb::Mode::kReadOnly, &db).ok());
  std::vector<LlmCallRecord> calls;
  ASSERT_TRUE(db->list_llm_calls(&calls).ok());
  double spent = 0.0, largest = 0.0;
  for (const auto& c : calls) {
    spent += c.cost_usd;
    largest = std::max(largest, c.cost_usd);
  }
  EXPECT_GT(calls.size(), 0u);
  EXPECT_LE(spent, limit + largest + 1e-12);
  std::vector<CandidateRow> rows;
  ASSERT_TRUE(db->list_candidates(&rows, true).ok());
  EXPECT_LT(rows.size(), calls.size() + 4) << "the run kept creating candidates after the budget was spent";
  // show --prompt prints the exact prompt sent for a candidate, and no key.
  const auto shown = test::run_adrs("show " + dir + "/budget 2 --prompt --json");
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  const auto j = nlohmann::json::parse(shown.out);
  ASSERT_FALSE(j["llm_calls"].empty()) << shown.out;
  const auto first_of_2 = std::find_if(calls.begin(), calls.end(), [](const LlmCallRecord& c) { return c.candidate_id == 2; });
  ASSERT_NE(first_of_2, calls.end());
  EXPECT_EQ(j["llm_calls"][0]["prompt"].get<std::string>(), first_of_2->prompt);
  EXPECT_NE(first_of_2->prompt.find("EVOLVE-BLOCK-START"), std::string::npos);
  EXPECT_EQ(shown.out.find(kKey), std::string::npos);
  EXPECT_NE(test::run_adrs("show " + dir + "/budget 2 --prompt").out.find("llm call 1: prompt"), std::string::npos);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace adrs

// The evaluation protocol: suites of settings, behavioral duplicates, held-out reports and
// significance (driver/run/suite.h, suite_eval.h, heldout.h).
#include <unistd.h>

#include <cmath>
#include <filesystem>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "driver/patch/patch.h"
#include "driver/propose/offline_proposer.h"
#include "driver/run/heldout.h"
#include "driver/run/population.h"
#include "driver/run/run_loop.h"
#include "driver/run/suite.h"
#include "tests/test_util.h"

namespace adrs {
namespace {

namespace fs = std::filesystem;

std::string starter() { return test::read_file(test::source_dir() + "/masker_template/evolve_masker.cpp"); }

// The starter with its EVOLVE block body replaced.
std::string starter_with(const std::string& body) {
  const PatchResult patched = replace_evolve_block(starter(), body);
  EXPECT_TRUE(patched.ok()) << "the test's body did not patch the starter";
  return patched.source;
}

class ScriptedProposer : public Proposer {
 public:
  std::map<int64_t, std::string> script;
  Proposal propose(const ProposalRequest& request, const std::atomic<bool>& cancel) override {
    auto it = script.find(request.candidate_id);
    if (it == script.end()) return offline_.propose(request, cancel);
    Proposal p;
    p.status = Proposal::Status::kOk;
    p.source = it->second;
    p.model = "script";
    return p;
  }
  std::string describe() const override { return "scripted"; }

 private:
  OfflineProposer offline_;
};

class ProtocolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("adrs-protocol-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  test::CommandOutput run(const std::string& name, const std::string& flags) const {
    return test::run_adrs("run --config runs/demo.toml --runs-dir " + dir_.string() + " --name " + name + " --cache-dir " +
                          test::binary_dir() + "/test-cache/protocol --quiet --device cpu " + flags);
  }
  nlohmann::json json_of(const std::string& args) const {
    const auto out = test::run_adrs(args);
    EXPECT_EQ(out.exit_code, 0) << args << "\n" << out.err;
    return nlohmann::json::parse(out.out, nullptr, false);
  }
  fs::path dir_;
};

TEST(SuiteTest, TheTextFormParsesWeightsAndDefaultDensitiesAndRejectsNonsense) {
  std::vector<Setting> s;
  ASSERT_TRUE(parse_settings("default@0.02*1, default@0.1*2 ,tinylm", 0.05, &s).ok());
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0].key(), "default@0.02");
  EXPECT_DOUBLE_EQ(s[1].weight, 2.0);
  EXPECT_EQ(s[2].key(), "tinylm@0.05");
  for (const char* bad : {"default@2", "default@0.1*0", "@0.1", "default@x", "default@0.1,default@0.1", "a,,b"}) {
    const Status st = parse_settings(bad, 0.1, &s);
    EXPECT_FALSE(st.ok()) << bad;
  }
}

TEST(SuiteTest, AConfigWithoutASuiteIsASuiteOfOne) {
  RunConfig config;
  config.workload = "default";
  config.target_density = 0.05;
  const auto suite = selection_suite(config);
  ASSERT_EQ(suite.size(), 1u);
  EXPECT_EQ(suite[0].key(), "default@0.05");
  EXPECT_DOUBLE_EQ(suite[0].weight, 1.0);
}

TEST(SuiteTest, ANewBestMustBeatTheOldByMoreThanTheNoiseOfTheTwoAndTheMargin) {
  EXPECT_TRUE(significantly_better(-0.10, 0.0, -0.11, 0.0, 0.0));
  EXPECT_FALSE(significantly_better(-0.10, 0.01, -0.11, 0.01, 0.0));  // lead 0.01 < noise 0.0141
  EXPECT_TRUE(significantly_better(-0.10, 0.001, -0.11, 0.001, 0.0));
  EXPECT_FALSE(significantly_better(-0.10, 0.0, -0.11, 0.0, 0.02));    // the run's margin
  EXPECT_FALSE(significantly_better(-0.10, 0.0, -0.10, 0.0, 0.0));
}

TEST_F(ProtocolTest, ASuiteStoresEverySettingAndScoresTheirWeightedMeanAndHeldOutIsReportedWithIntervals) {
  const auto r = run("suite", "--workload smoke --suite 'smoke@0.05,smoke@0.1*2,smoke-heldout@0.2' "
                              "--heldout 'smoke@0.1,tinylm@0.1' --heldout-top-k 2 --max-candidates 6 --json");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const auto summary = nlohmann::json::parse(r.out);
  for (const auto& c : json_of("best " + (dir_ / "suite").string() + " --top 0 --json")) {
    const auto shown = json_of("show " + (dir_ / "suite").string() + " " + std::to_string(c["id"].get<int64_t>()) + " --json");
    ASSERT_EQ(shown["settings"].size(), 3u) << shown.dump();
    double weighted = 0;
    for (const auto& s : shown["settings"]) weighted += s["weight"].get<double>() * s["score"].get<double>() / 4.0;
    EXPECT_NEAR(shown["score"].get<double>(), weighted, 1e-12);
    EXPECT_EQ(shown["settings"][1]["setting"], "smoke@0.1");
  }
  // The summary of the run (and status --json) carry the held-out section.
  for (const auto& h : {summary["heldout"], json_of("status " + (dir_ / "suite").string() + " --json")["heldout"]}) {
    ASSERT_TRUE(h.is_object()) << summary.dump();
    EXPECT_TRUE(h["complete"].get<bool>()) << h.dump();
    ASSERT_EQ(h["settings"].size(), 2u);
    EXPECT_FALSE(h["settings"][0]["twin_seed"].is_null());  // smoke's twin: a seed drawn at creation
    EXPECT_TRUE(h["settings"][1]["twin_seed"].is_null());   // tinylm: a trace
    for (const auto& s : h["settings"]) EXPECT_FALSE(s["best_baseline"].is_null()) << s.dump();
    ASSERT_EQ(h["candidates"].size(), 2u);
    for (const auto& c : h["candidates"])
      for (const auto& [key, v] : c["heldout"].items()) {
        ASSERT_EQ(v["status"], "ok") << v.dump();
        EXPECT_LE(v["ci_low"].get<double>(), v["score"].get<double>() + 1e-12) << key;
        EXPECT_GE(v["ci_high"].get<double>(), v["score"].get<double>() - 1e-12) << key;
      }
  }
  // best --heldout shows the same, reproducibly (fixed bootstrap seed).
  const auto a = test::run_adrs("best " + (dir_ / "suite").string() + " --heldout");
  const auto b = test::run_adrs("best " + (dir_ / "suite").string() + " --heldout");
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(a.out, b.out);
  EXPECT_NE(a.out.find("best oracle baseline"), std::string::npos) << a.out;
}

TEST_F(ProtocolTest, HeldOutResultsLostToAKillAreComputedOnResumeExactlyOnce) {
  ASSERT_EQ(run("resume", "--workload smoke --heldout smoke@0.1 --heldout-top-k 3 --max-candidates 5").exit_code, 0);
  const std::string run_dir = (dir_ / "resume").string();
  std::map<int64_t, std::vector<SettingResult>> before, after;
  {
    std::unique_ptr<RunDb> db;
    ASSERT_TRUE(RunDb::Open(run_dir + "/run.db", RunDb::Mode::kReadWrite, &db).ok());
    ASSERT_TRUE(db->list_setting_results("heldout", &before).ok());
    ASSERT_EQ(before.size(), 3u);
    // What a kill -9 in the middle of the phase leaves: some results stored, others not.
    ASSERT_TRUE(db->set_state("status", "running").ok());
  }
  {
    const std::string sql = "sqlite3 " + run_dir + "/run.db \"DELETE FROM setting_results WHERE kind = 'heldout' AND candidate_id = " +
                            std::to_string(before.rbegin()->first) + "; DELETE FROM heldout_baselines WHERE baseline = 'vattention'\"";
    ASSERT_EQ(std::system(sql.c_str()), 0);
  }
  const auto resumed = test::run_adrs("resume " + run_dir + " --quiet --json");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  std::unique_ptr<RunDb> db;
  ASSERT_TRUE(RunDb::Open(run_dir + "/run.db", RunDb::Mode::kReadOnly, &db).ok());
  ASSERT_TRUE(db->list_setting_results("heldout", &after).ok());
  ASSERT_EQ(after.size(), 3u);
  for (const auto& [id, results] : after) {
    ASSERT_EQ(results.size(), 1u) << id;  // never twice
    EXPECT_DOUBLE_EQ(results[0].score, before[id][0].score) << id;  // the same twin, the same number
  }
  std::vector<BaselineSettingResult> baselines;
  ASSERT_TRUE(db->list_heldout_baselines(&baselines).ok());
  int vattention = 0;
  for (const auto& b : baselines) vattention += b.baseline == "vattention";
  EXPECT_EQ(vattention, 1);
  EXPECT_TRUE(nlohmann::json::parse(resumed.out)["heldout"]["complete"].get<bool>());
}

TEST_F(ProtocolTest, MaskersWhoseSelectionsAreUnchangedAreBehavioralDuplicatesOfTheOriginal) {
  // The seed is the starter (sinks and a window of 4.5% each).
  ScriptedProposer proposer;
  // Dead code: a branch that never runs.
  proposer.script[2] = starter_with(R"(void select(const adrs::Row& row, adrs::Selection& out) {
  const int n = row.num_keys;
  if (n < 0) { for (int i = 0; i < 100; ++i) out.add(i, 3.0); }
  const int sink = std::max(1, static_cast<int>(0.045 * n));
  const int window = std::max(1, static_cast<int>(0.045 * n));
  for (int i = 0; i < std::min(sink, n); ++i) out.add(i);
  for (int i = std::max(sink, n - window); i < n; ++i) out.add(i);
}
)");
  // Another computation with the same selections (a reversed loop, one pass, a different order).
  proposer.script[3] = starter_with(R"(void select(const adrs::Row& row, adrs::Selection& out) {
  const int n = row.num_keys;
  const int keep = std::max(1, static_cast<int>(0.045 * n));
  for (int i = n - 1; i >= 0; --i)
    if (i < std::min(keep, n) || i >= std::max(keep, n - keep)) out.add(i);
}
)");
  // A real change: a wider window.
  proposer.script[4] = starter_with(R"(void select(const adrs::Row& row, adrs::Selection& out) {
  const int n = row.num_keys;
  for (int i = 0; i < n; ++i)
    if (i < 2 || i >= n - std::max(1, n / 10)) out.add(i);
}
)");
  RunConfig config;
  config.workload = "smoke";
  config.max_candidates = 4;
  config.parallel = 2;
  config.timeout_s = 20;
  std::unique_ptr<RunDb> db;
  ASSERT_TRUE(RunDb::Open((dir_ / "dup.db").string(), RunDb::Mode::kCreate, &db).ok());
  ASSERT_TRUE(insert_seed_candidate(*db, starter()).ok());
  RunEvaluators evaluators;
  ASSERT_TRUE(make_run_evaluators(config, test::binary_dir() + "/test-cache/protocol", &evaluators).ok());
  OfflineProposer tuner;
  LoopOptions options;
  options.quiet = true;
  const LoopResult result = run_loop(config, *db, proposer, &tuner, evaluators, options);
  ASSERT_EQ(result.stop_reason, StopReason::kMaxCandidates) << result.stop_detail;
  std::vector<CandidateRow> rows;
  ASSERT_TRUE(db->list_candidates(&rows, true).ok());
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0].status, CandidateStatus::kEvaluated);
  for (int i : {1, 2}) {
    EXPECT_EQ(rows[i].status, CandidateStatus::kDuplicate) << rows[i].id << ": " << rows[i].message;
    EXPECT_EQ(rows[i].duplicate_of.value_or(0), 1) << rows[i].id;
    EXPECT_NE(rows[i].source_hash, rows[0].source_hash);  // not a copy of the source
    EXPECT_FALSE(rows[i].score.has_value());              // not evaluated in full
  }
  EXPECT_EQ(rows[3].status, CandidateStatus::kEvaluated) << rows[3].message;
  EXPECT_NE(rows[3].behavior_hash, rows[0].behavior_hash);
}

TEST_F(ProtocolTest, TheSummarySaysWhenTheWinnerIsWithinNoiseOfTheRunnerUp) {
  const auto r = run("noise", "--workload smoke --max-candidates 4 --eval-seeds 2 --improvement-margin 1000 --json");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_FALSE(j["runner_up"].is_null()) << j.dump();
  EXPECT_TRUE(j["best"]["within_noise_of_runner_up"].get<bool>()) << j["best"].dump();
  const auto text = test::run_adrs("status " + (dir_ / "noise").string());
  EXPECT_NE(text.out.find("within noise of the runner-up"), std::string::npos) << text.out;
}

TEST_F(ProtocolTest, ABadSuiteIsRefusedBeforeTheRunExistsWithTheEntryNamed) {
  const auto r = run("bad", "--suite 'default@0.1,smoke@1.5'");
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("smoke@1.5"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "bad"));
  const auto track = run("bad2", "--track psychic");
  EXPECT_EQ(track.exit_code, 2);
  EXPECT_NE(track.err.find("evaluation.track"), std::string::npos) << track.err;
}

}  // namespace
}  // namespace adrs

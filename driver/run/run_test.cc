// Run: the lifecycle `adrs run` and `adrs resume` share, driven in-process.
#include "driver/run/run.h"

#include <unistd.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "tests/test_util.h"

namespace adrs {
namespace {

namespace fs = std::filesystem;

class RunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    runs_ = fs::temp_directory_path() / ("adrs-run-" + std::to_string(::getpid()) + "-" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(runs_);
    fs::create_directories(runs_);
    config_.name = "r";
    config_.workload = "smoke";
    config_.max_candidates = 4;
    config_.parallel = 1;
    config_.timeout_s = 20;
    config_.cache_dir = test::binary_dir() + "/test-cache/maskers-run";
    ASSERT_TRUE(config_.validate().ok());
  }
  void TearDown() override { fs::remove_all(runs_); }

  std::unique_ptr<adrs::Run> create() {
    CreateOptions options;
    options.runs_dir = runs_.string();
    std::unique_ptr<adrs::Run> run;
    const Status s = adrs::Run::Create(config_, test::read_file(test::source_dir() + "/masker_template/evolve_masker.cpp"), options, &run);
    EXPECT_TRUE(s.ok()) << s.message();
    return run;
  }
  static LoopResult drive(adrs::Run& run) {
    DriveOptions options;
    options.quiet = true;
    options.progress = false;
    LoopResult result;
    const Status s = run.Drive(options, &result);
    EXPECT_TRUE(s.ok()) << s.message();
    return result;
  }
  static size_t terminal_rows(adrs::Run& run) {
    std::vector<CandidateRow> rows;
    EXPECT_TRUE(run.db().list_candidates(&rows, true).ok());
    size_t n = 0;
    for (const CandidateRow& r : rows) n += r.terminal() ? 1 : 0;
    return n;
  }
  std::string dir() const { return (runs_ / "r").string(); }

  fs::path runs_;
  RunConfig config_;
};

TEST_F(RunTest, ACreatedRunIsDrivenToItsBudgetThenReopenedWithALargerOneAndContinued) {
  {
    std::unique_ptr<adrs::Run> run = create();
    ASSERT_TRUE(run);
    EXPECT_EQ(run->dir(), dir());
    EXPECT_EQ(drive(*run).stop_reason, StopReason::kMaxCandidates);
    EXPECT_EQ(terminal_rows(*run), 4u);
    EXPECT_EQ(run->db().state("status"), "stopped");
    EXPECT_EQ(run->db().state("stop_reason"), "max_candidates");
  }
  std::unique_ptr<adrs::Run> run;
  ASSERT_TRUE(adrs::Run::Open(dir(), {}, &run).ok());
  RunConfig wanted = run->config();
  EXPECT_EQ(wanted.max_candidates, 4);
  wanted.max_candidates = 6;
  std::string changed;
  ASSERT_TRUE(run->Reconfigure(wanted, &changed).ok());
  EXPECT_NE(changed.find("max_candidates: 4 -> 6"), std::string::npos) << changed;
  EXPECT_EQ(run->config().max_candidates, 6);
  EXPECT_EQ(drive(*run).stop_reason, StopReason::kMaxCandidates);
  EXPECT_EQ(terminal_rows(*run), 6u);
  RunConfig stored;
  ASSERT_TRUE(stored_config(run->db(), &stored).ok());
  EXPECT_EQ(stored.max_candidates, 6) << "the changed limit is stored, so a later resume keeps it";
}

TEST_F(RunTest, ASecondOpenWhileOneHoldsTheRunIsBusyNamingTheHolder) {
  std::unique_ptr<adrs::Run> first = create();
  ASSERT_TRUE(first);
  std::unique_ptr<adrs::Run> second;
  const Status s = adrs::Run::Open(dir(), {}, &second);
  EXPECT_TRUE(s.is(StatusCode::kBusy)) << s.message();
  EXPECT_NE(s.message().find("pid " + std::to_string(::getpid())), std::string::npos) << s.message();
  EXPECT_FALSE(second);
}

TEST_F(RunTest, ReconfigureRefusesAKeyThatDefinesTheSearchAndStoresNothing) {
  create().reset();
  std::unique_ptr<adrs::Run> run;
  ASSERT_TRUE(adrs::Run::Open(dir(), {}, &run).ok());
  RunConfig wanted = run->config();
  wanted.target_density = 0.2;
  wanted.max_candidates = 9;
  std::string changed;
  const Status s = run->Reconfigure(wanted, &changed);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("target_density"), std::string::npos) << s.message();
  EXPECT_EQ(s.message().find("max_candidates"), std::string::npos) << "only the refused keys are listed: " << s.message();
  EXPECT_EQ(run->config().target_density, config_.target_density);
  RunConfig stored;
  ASSERT_TRUE(stored_config(run->db(), &stored).ok());
  EXPECT_EQ(stored.max_candidates, 4) << "a refused reconfiguration changes no key, not even the allowed ones";
}

TEST_F(RunTest, ARunOfAnotherReleaseOpensOnlyWhenAllowedAndIsThenMarkedAsResumedByThisOne) {
  {
    std::unique_ptr<adrs::Run> run = create();
    ASSERT_TRUE(run);
    ASSERT_TRUE(run->db().set_state("adrs_version", "0.0.9").ok());
  }
  std::unique_ptr<adrs::Run> run;
  const Status refused = adrs::Run::Open(dir(), {}, &run);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.message().find("made by adrs 0.0.9"), std::string::npos) << refused.message();
  EXPECT_NE(refused.message().find("--allow-version-change"), std::string::npos) << refused.message();
  OpenOptions allow;
  allow.allow_version_change = true;
  ASSERT_TRUE(adrs::Run::Open(dir(), allow, &run).ok());
  std::string changed;
  ASSERT_TRUE(run->Reconfigure(run->config(), &changed).ok());
  EXPECT_EQ(changed, "");
  EXPECT_EQ(run->db().state("adrs_version"), kAdrsVersion);
}

TEST_F(RunTest, OpeningAFolderThatIsNotARunSaysSoAndCreatesNothing) {
  fs::create_directories(runs_ / "plain");
  std::unique_ptr<adrs::Run> run;
  const Status s = adrs::Run::Open((runs_ / "plain").string(), {}, &run);
  ASSERT_FALSE(s.ok());
  EXPECT_FALSE(fs::exists(runs_ / "plain" / "run.db"));
  EXPECT_FALSE(fs::exists(runs_ / "plain" / "lock"));
}

}  // namespace
}  // namespace adrs

// Storage faults injected into `adrs run` as SQLite's test suite injects them into its I/O paths:
// the fault shim (tests/fault_shim.cc) makes the Nth write / fsync / open / create call on the run
// directory fail with ENOSPC, EIO or EMFILE (or kills the process there), swept over N across a
// short run. After each fault: the run stopped with a fault (never "interrupted"), the fault is
// cleared, resume (or a new `adrs run` when nothing was created) finishes, and the run equals an
// uninterrupted one with no candidate failed because of the fault.
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/fault_util.h"

namespace adrs {
namespace {

namespace fs = std::filesystem;
using test::adrs_with_env;
using test::fault_env;

constexpr int kBudget = 6;

class FaultInjection : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = (fs::temp_directory_path() / ("adrs-fault-" + std::to_string(::getpid()))).string();
    fs::remove_all(root_);
    fs::create_directories(root_ + "/base");
    // The uninterrupted run every faulted run must end up equal to; it also counts the calls of
    // each kind a run makes, so the sweeps spread over the whole run.
    const auto out = adrs_with_env(fault_env(root_ + "/base", "none", 0, "ENOSPC", false, root_ + "/counts"),
                                   args(root_ + "/base", "r", kBudget));
    ASSERT_EQ(out.exit_code, 0) << out.err;
    baseline_ = test::rows_of(root_ + "/base/r");
    std::ifstream in(root_ + "/counts");
    std::string kind;
    long n = 0;
    while (in >> kind >> n) counts_[kind] = n;
  }
  static void TearDownTestSuite() { fs::remove_all(root_); }

  static std::string args(const std::string& runs_dir, const std::string& name, int budget) {
    return "run --config runs/demo.toml --workload smoke --max-candidates " + std::to_string(budget) + " --runs-dir " + runs_dir +
           " --name " + name + " --cache-dir " + test::binary_dir() + "/test-cache/fault --quiet";
  }

  // N values spread over 1..count: the first calls, the last one and the quarters between.
  static std::vector<long> spread(long count, int points) {
    std::set<long> at{1, std::max(1L, count)};
    for (int i = 1; i < points - 1; ++i) at.insert(std::max(1L, count * i / (points - 1)));
    return {at.begin(), at.end()};
  }

  // One faulted run, then the fault cleared and the run finished; compared with the baseline.
  // With `in_scratch` the faults hit the evaluator's temporary directory (TMPDIR) instead of the
  // run directory.
  void fault_then_recover(const std::string& ops, long at, const std::string& error, bool sticky, bool in_scratch = false) {
    const std::string what = ops + " call " + std::to_string(at) + " fails with " + error + (sticky ? " (and every later one)" : "") +
                             (in_scratch ? " in the evaluator's scratch" : "");
    SCOPED_TRACE(what);
    const std::string runs = root_ + "/" + ops + "-" + error + "-" + std::to_string(at) + (in_scratch ? "-scratch" : "");
    fs::create_directories(runs + "/tmp");
    const std::string env = "TMPDIR=" + runs + "/tmp " + fault_env(in_scratch ? runs + "/tmp" : runs, ops, at, error, sticky);
    const auto faulted = adrs_with_env(env, args(runs, "r", kBudget));
    EXPECT_NE(faulted.exit_code, 130) << "a storage fault is not an interruption\n" << faulted.err;
    EXPECT_EQ(faulted.err.find("interrupted"), std::string::npos) << faulted.err;
    if (faulted.exit_code != 0) {
      EXPECT_NE(faulted.err.find("adrs run: "), std::string::npos) << "the fault is named\n" << faulted.err;
    }
    const std::string run = runs + "/r";
    if (fs::exists(run)) {
      const auto status = test::run_adrs("status " + run + " --json");
      ASSERT_EQ(status.exit_code, 0) << "a run directory that exists is a complete run\n" << status.err;
      const nlohmann::json j = nlohmann::json::parse(status.out, nullptr, false);
      ASSERT_TRUE(j.is_object());
      EXPECT_NE(j["status"], "interrupted") << status.out;
      const auto resumed = test::run_adrs("resume " + run + " --quiet");
      ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
    } else {
      const auto again = adrs_with_env("", args(runs, "r", kBudget));
      ASSERT_EQ(again.exit_code, 0) << again.err;
    }
    EXPECT_EQ(test::creation_leftovers(runs), 0) << "temporary directories of a failed creation are removed";
    EXPECT_EQ(test::integrity_of(run + "/run.db"), "ok");
    test::expect_same_run(test::rows_of(run), baseline_, what);
  }

  static std::string root_;
  static std::vector<CandidateRow> baseline_;
  static std::map<std::string, long> counts_;
};

std::string FaultInjection::root_;
std::vector<CandidateRow> FaultInjection::baseline_;
std::map<std::string, long> FaultInjection::counts_;

TEST_F(FaultInjection, TheBaselineRunMadeCallsOfEveryKindOnItsDirectory) {
  ASSERT_EQ(static_cast<int>(baseline_.size()), kBudget);
  for (const char* kind : {"write", "fsync", "open", "create"}) EXPECT_GT(counts_[kind], 0) << kind;
}

TEST_F(FaultInjection, ADiskThatFillsAtAnyWriteStopsTheRunAndResumeFinishesIt) {
  for (long at : spread(counts_["write"], 6)) fault_then_recover("write", at, "ENOSPC", true);
}

TEST_F(FaultInjection, AnIoErrorAtAnyWriteStopsTheRunAndResumeFinishesIt) {
  for (long at : spread(counts_["write"], 4)) fault_then_recover("write", at, "EIO", false);
}

TEST_F(FaultInjection, AFailedFsyncNeverCostsACandidate) {
  for (long at : spread(counts_["fsync"], 4)) fault_then_recover("fsync", at, "EIO", false);
}

TEST_F(FaultInjection, TooManyOpenFilesAtAnyOpenStopsTheRunAndResumeFinishesIt) {
  for (long at : spread(counts_["open"], 5)) fault_then_recover("open", at, "EMFILE", false);
}

TEST_F(FaultInjection, AFullDiskWhileCreatingDirectoriesOrRenamingIsSurvived) {
  for (long at : spread(counts_["create"], 4)) fault_then_recover("create", at, "ENOSPC", true);
}

// A full or failing temporary directory of the evaluator (its workload copy for the worker) is a
// fault of the machine: the run is not created, or stops; never a failed candidate.
TEST_F(FaultInjection, AFullTemporaryDirectoryOfTheEvaluatorIsAFaultNeverAFailedCandidate) {
  for (long at : {1L, 2L, 3L, 6L, 12L}) fault_then_recover("write,open,create", at, "ENOSPC", true, true);
}

// Creation killed at every I/O step: afterwards the run directory either does not exist or is a
// complete run; `adrs run` (or resume) then finishes, and no temporary directory is left.
TEST_F(FaultInjection, CreationKilledAtEveryStepLeavesNothingOrACompleteRun) {
  const std::string runs = root_ + "/kill";
  fs::create_directories(runs);
  const auto counted = adrs_with_env(fault_env(runs + "/count", "none", 0, "KILL", false, root_ + "/kill-counts"),
                                     args(runs + "/count", "r", 1));
  ASSERT_EQ(counted.exit_code, 0) << counted.err;
  std::ifstream in(root_ + "/kill-counts");
  std::string kind;
  long n = 0, calls = 0;
  while (in >> kind >> n) calls += n;
  ASSERT_GT(calls, 5);
  const long step = std::max(1L, calls / 24);
  int killed = 0;
  for (long at = 1; at <= calls; at += step) {
    SCOPED_TRACE("killed at I/O call " + std::to_string(at) + " of " + std::to_string(calls));
    const std::string dir = runs + "/" + std::to_string(at);
    fs::create_directories(dir);
    const auto out = adrs_with_env(fault_env(dir, "write,fsync,open,create", at, "KILL", false), args(dir, "r", 1));
    if (out.exit_code == 128 + SIGKILL) ++killed;
    const std::string run = dir + "/r";
    if (fs::exists(run)) {
      const auto status = test::run_adrs("status " + run + " --json");
      ASSERT_EQ(status.exit_code, 0) << "only complete runs appear at runs/<name>\n" << status.err;
      const auto resumed = test::run_adrs("resume " + run + " --quiet");
      ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
    } else {
      const auto again = adrs_with_env("", args(dir, "r", 1));
      ASSERT_EQ(again.exit_code, 0) << again.err;
    }
    EXPECT_EQ(test::creation_leftovers(dir), 0);
    const std::vector<CandidateRow> rows = test::rows_of(run);
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].status, CandidateStatus::kEvaluated);
    EXPECT_EQ(rows[0].score, baseline_[0].score);
    fs::remove_all(dir);
  }
  EXPECT_GE(killed, 10) << "most sweeps must really kill the process";
}

}  // namespace
}  // namespace adrs

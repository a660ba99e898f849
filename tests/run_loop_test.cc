// The run loop in-process, with a scripted proposer: failures of every kind end as stored,
// terminal rows with reasons; duplicates are not evaluated again; a resumed run makes the same
// choices as an uninterrupted one; stop conditions say why they fired.
#include <filesystem>
#include <map>

#include <gtest/gtest.h>

#include "driver/propose/offline_proposer.h"
#include "driver/run/run_loop.h"
#include "tests/test_util.h"

namespace adrs {
namespace {

namespace fs = std::filesystem;

// Answers from a script for some candidate ids; the offline proposer for the rest.
class ScriptedProposer : public Proposer {
 public:
  std::map<int64_t, Proposal> script;
  Proposal propose(const ProposalRequest& request, const std::atomic<bool>& cancel) override {
    if (auto it = script.find(request.candidate_id); it != script.end()) return it->second;
    return offline_.propose(request, cancel);
  }
  std::string describe() const override { return "scripted"; }

 private:
  OfflineProposer offline_;
};

Proposal answer(const std::string& source) {
  Proposal p;
  p.status = Proposal::Status::kOk;
  p.source = source;
  p.model = "script";
  return p;
}

std::string starter() { return test::read_file(test::source_dir() + "/masker_template/evolve_masker.cpp"); }

// The starter with its EVOLVE block replaced by the block of a test masker.
std::string with_block_of(const std::string& masker) {
  const std::string source = test::masker_source(masker);
  std::string body = evolve_block_body(source);
  if (body.empty()) {  // a test masker without markers: everything but the API include
    body = source;
    const std::string include = "#include \"masker_api.h\"\n";
    if (const size_t at = body.find(include); at != std::string::npos) body.erase(at, include.size());
  }
  return replace_evolve_block(starter(), body).source;
}

class RunLoopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("adrs-loop-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    config_.workload = "smoke";
    config_.max_candidates = 10;
    config_.parallel = 2;
    config_.islands = 2;
    config_.migration_interval = 4;
    config_.timeout_s = 10;
  }
  void TearDown() override { fs::remove_all(dir_); }

  LoopResult run(ScriptedProposer& proposer, const std::string& name, const std::atomic<bool>* interrupt = nullptr) {
    if (!db_ || db_->path() != (dir_ / name).string()) {
      db_.reset();
      const bool fresh = !fs::exists(dir_ / name);
      EXPECT_TRUE(RunDb::Open((dir_ / name).string(), fresh ? RunDb::Mode::kCreate : RunDb::Mode::kReadWrite, &db_).ok());
      if (fresh) {
        EXPECT_TRUE(insert_seed_candidate(*db_, starter()).ok());
      }
    }
    RunEvaluators evaluators;
    EXPECT_TRUE(make_run_evaluators(config_, test::binary_dir() + "/test-cache/maskers-loop", &evaluators).ok());
    OfflineProposer tuner;
    LoopOptions options;
    options.quiet = true;
    options.interrupt = interrupt;
    return run_loop(config_, *db_, proposer, &tuner, evaluators, options);
  }
  std::vector<CandidateRow> rows() {
    std::vector<CandidateRow> out;
    EXPECT_TRUE(db_->list_candidates(&out, true).ok());
    return out;
  }

  fs::path dir_;
  RunConfig config_;
  std::unique_ptr<RunDb> db_;
};

TEST_F(RunLoopTest, EveryFailureBecomesATerminalRowWithItsReason) {
  config_.compile_timeout_s = 10;  // for the candidate that hangs the compiler
  ScriptedProposer proposer;
  proposer.script[2] = answer(with_block_of("segfault"));
  proposer.script[3] = answer(with_block_of("hang_compiler"));
  Proposal broken;
  broken.status = Proposal::Status::kPatchError;
  broken.patch_error = PatchError::kSearchNotFound;
  broken.message = "SEARCH block 1 matches nowhere";
  proposer.script[4] = broken;
  proposer.script[5] = answer("// changed outside\n" + starter());
  proposer.script[6] = answer(with_block_of("keep_all"));
  // Same normalized source as 6: only a comment inside the block differs.
  proposer.script[7] = answer(replace_evolve_block(starter(), evolve_block_body(with_block_of("keep_all")) + "// again\n").source);
  const LoopResult result = run(proposer, "failures.db");
  EXPECT_EQ(result.stop_reason, StopReason::kMaxCandidates) << result.stop_detail;
  const std::vector<CandidateRow> all = rows();
  ASSERT_EQ(all.size(), 10u);
  for (const CandidateRow& r : all) EXPECT_TRUE(r.terminal()) << r.id << " " << r.status;
  EXPECT_EQ(all[1].failure, "crashed");
  EXPECT_EQ(all[2].failure, "compile_error");
  EXPECT_NE(all[2].message.find("timeout"), std::string::npos) << all[2].message;
  EXPECT_EQ(all[3].failure, "patch:search_not_found");
  EXPECT_EQ(all[3].message, "SEARCH block 1 matches nowhere");
  EXPECT_EQ(all[4].failure, "patch:outside_block");
  EXPECT_EQ(all[5].status, CandidateStatus::kEvaluated);
  EXPECT_EQ(all[6].status, CandidateStatus::kDuplicate);
  EXPECT_EQ(all[6].duplicate_of, std::optional<int64_t>(6));
  EXPECT_EQ(all[6].attempts, 0) << "a duplicate is never evaluated";
  // Failed candidates are never parents.
  for (const CandidateRow& r : all)
    if (r.parent_id) {
      EXPECT_EQ(all[*r.parent_id - 1].status, CandidateStatus::kEvaluated) << "candidate " << r.id;
    }
}

// An interrupted run resumed later makes exactly the choices of an uninterrupted one.
TEST_F(RunLoopTest, ResumeMakesTheSameChoicesAsAnUninterruptedRun) {
  config_.max_candidates = 14;
  ScriptedProposer proposer;
  ASSERT_EQ(run(proposer, "straight.db").stop_reason, StopReason::kMaxCandidates);
  const std::vector<CandidateRow> straight = rows();

  std::atomic<bool> interrupt{false};
  config_.max_candidates = 6;  // stop early, as a kill would, then continue with the full budget
  run(proposer, "resumed.db", &interrupt);
  config_.max_candidates = 14;
  ASSERT_EQ(run(proposer, "resumed.db").stop_reason, StopReason::kMaxCandidates);
  const std::vector<CandidateRow> resumed = rows();
  ASSERT_EQ(straight.size(), resumed.size());
  for (size_t i = 0; i < straight.size(); ++i) {
    EXPECT_EQ(straight[i].parent_id, resumed[i].parent_id) << "candidate " << i + 1;
    EXPECT_EQ(straight[i].mutation, resumed[i].mutation) << "candidate " << i + 1;
    EXPECT_EQ(straight[i].source_hash, resumed[i].source_hash) << "candidate " << i + 1;
    EXPECT_EQ(straight[i].score, resumed[i].score) << "candidate " << i + 1;
  }
}

TEST_F(RunLoopTest, StopConditionsSayWhy) {
  ScriptedProposer proposer;
  config_.target_score = -1.0;  // the starter already beats it
  LoopResult r = run(proposer, "target.db");
  EXPECT_EQ(r.stop_reason, StopReason::kTargetScore);
  EXPECT_NE(r.stop_detail.find("reached the target"), std::string::npos);
  EXPECT_LE(rows().size(), 3u);

  config_.target_score = NAN;
  config_.patience = 3;
  config_.max_candidates = 40;
  r = run(proposer, "patience.db");
  EXPECT_TRUE(r.stop_reason == StopReason::kPatience || r.stop_reason == StopReason::kMaxCandidates) << stop_reason_name(r.stop_reason);

  std::atomic<bool> interrupt{true};
  r = run(proposer, "interrupted.db", &interrupt);
  EXPECT_EQ(r.stop_reason, StopReason::kInterrupted);
  for (const CandidateRow& row : rows()) EXPECT_FALSE(row.status == CandidateStatus::kFailed && row.failure == "cancelled");
}

}  // namespace
}  // namespace adrs

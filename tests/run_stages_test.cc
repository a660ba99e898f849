// --eval-seeds and the evaluation cascade, from the outside.
#include <unistd.h>

#include <filesystem>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/test_util.h"

namespace adrs {
namespace {

namespace fs = std::filesystem;

class RunStagesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (fs::temp_directory_path() / ("adrs-stages-" + std::to_string(::getpid()) + "-" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name())).string();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  test::CommandOutput run(const std::string& name, const std::string& flags) const {
    return test::run_adrs("run --config runs/demo.toml --runs-dir " + dir_ + " --name " + name + " --cache-dir " +
                          test::binary_dir() + "/test-cache/run-stages --quiet " + flags);
  }
  nlohmann::json all_candidates(const std::string& name) const {
    const auto out = test::run_adrs("best " + dir_ + "/" + name + " --all --top 0 --json");
    EXPECT_EQ(out.exit_code, 0) << out.err;
    return nlohmann::json::parse(out.out, nullptr, false);
  }
  std::string dir_;
};

TEST_F(RunStagesTest, EvalSeedsStoreEverySeedAndTheirMean) {
  const auto r = run("seeds", "--workload smoke --max-candidates 4 --eval-seeds 3");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const auto shown = test::run_adrs("show " + dir_ + "/seeds 1 --json");
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  const auto j = nlohmann::json::parse(shown.out);
  const auto& per_seed = j["metrics"]["per_seed"];
  ASSERT_EQ(per_seed.size(), 3u) << j.dump();
  double mean = 0.0;
  for (const auto& s : per_seed) mean += s["score"].get<double>() / 3.0;
  EXPECT_NEAR(j["score"].get<double>(), mean, 1e-12);
  EXPECT_FALSE(j["score_std"].is_null());
}

TEST_F(RunStagesTest, CascadeScoresStageOneFirstAndFiltersTheRest) {
  const auto r = run("cascade", "--workload default --max-candidates 10 --cascade true --cascade-workload smoke "
                                "--cascade-margin 0");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const auto rows = all_candidates("cascade");
  ASSERT_TRUE(rows.is_array()) << rows.dump();
  int staged = 0;
  for (const auto& c : rows) {
    if (c["id"] == 1 || c["status"] == "duplicate" || c["status"] == "failed") continue;
    EXPECT_FALSE(c["stage1_score"].is_null()) << c.dump();  // every candidate met stage 1 first
    ++staged;
    if (c["status"] == "filtered") {
      EXPECT_TRUE(c["score"].is_null()) << c.dump();  // never scored on the full workload
    }
  }
  EXPECT_GT(staged, 0);
}

}  // namespace
}  // namespace adrs

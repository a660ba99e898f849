// Names and numbers given to `adrs run`: every bad one is refused with one clear error before
// anything is created; no silent wrap (4294967298 is not 2), clamp (1e20) or crash (a 300-byte
// name); a bare boolean flag means true.
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include <gtest/gtest.h>

#include "driver/cli/config_flags.h"
#include "driver/run/run_config.h"
#include "tests/test_util.h"

namespace adrs {
namespace {

namespace fs = std::filesystem;
using test::run_adrs;

class RunInputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (fs::temp_directory_path() / ("adrs-input-" + std::to_string(::getpid()))).string();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  // `adrs run` with `extra` (shell words); expects exit 2, `message` in stderr, nothing created.
  void expect_refused(const std::string& extra, const std::string& message) {
    SCOPED_TRACE(extra);
    const auto out = run_adrs("run --config runs/demo.toml --workload smoke --runs-dir " + dir_ +
                              " --cache-dir " + test::binary_dir() + "/test-cache/input --quiet " + extra);
    EXPECT_EQ(out.exit_code, 2) << out.err;
    EXPECT_NE(out.err.find(message), std::string::npos) << out.err;
    EXPECT_EQ(out.err.find("terminate called"), std::string::npos) << out.err;
    EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 0) << "nothing is created";
  }
  std::string dir_;
};

TEST_F(RunInputTest, EveryBadRunNameGetsOneClearError) {
  expect_refused("--name " + std::string(300, 'a'), "300 bytes long; the limit is 200 bytes");
  std::string two_byte;
  for (int i = 0; i < 101; ++i) two_byte += "\xc3\xa9";  // 101 x 'é': 101 characters, 202 bytes
  expect_refused("--name " + two_byte, "202 bytes long");
  expect_refused("--name \"$(printf 'line\\nbreak')\"", "control character");
  expect_refused("--name \"$(printf 'tab\\there')\"", "control character");
  expect_refused("--name a/b", "contains '/'");
  expect_refused("--name .", "starts with '.'");
  expect_refused("--name ..", "starts with '.'");
  expect_refused("--name .hidden", "starts with '.'");
  expect_refused("--name ''", "--name needs a value");
  EXPECT_NE(validate_run_name("").message().find("run.name is empty"), std::string::npos) << "an empty name from a TOML file";
}

TEST_F(RunInputTest, NumbersOutOfRangeAreErrorsNeverWrappedOrClamped) {
  expect_refused("--name n --parallel 4294967298", "--parallel: '4294967298' is out of range");
  expect_refused("--name n --eval-seeds 4294967297", "--eval-seeds: '4294967297' is out of range");
  expect_refused("--name n --max-candidates 1e20", "--max-candidates: '1e20' is not an integer");
  expect_refused("--name n --max-candidates 100000000000000000000", "--max-candidates: '100000000000000000000' is out of range");
  expect_refused("--name n --max-candidates 2000000000", "stop.max_candidates must be in 1..1000000000");
  expect_refused("--name n --seed -1", "--seed: '-1' is out of range");
  expect_refused("--name n --parallel 2.5", "is not an integer");
  expect_refused("--name n --parallel ' 2'", "is not an integer");
  expect_refused("--name n --timeout-s 1e400", "out of range");
  expect_refused("--name n --timeout-s inf", "out of range");
  expect_refused("--name n --parallel 257", "search.parallel must be in 0..256");
  expect_refused("--name n --schedule fast", "search.schedule must be deterministic or async");
  expect_refused("--name n --devices 0,x", "is not a GPU index");
  expect_refused("--name n --devices 1,1", "names GPU 1 twice");
  expect_refused("--name n --eval-seeds 65", "evaluation.eval_seeds must be in 1..64");
}

// Parses `argv` (without the program name) with the config flags and applies them.
Status apply_flags(std::vector<std::string> argv, RunConfig* config) {
  CLI::App app;
  ConfigFlags flags;
  flags.add_to(&app);
  std::reverse(argv.begin(), argv.end());  // CLI11 takes a vector of arguments last first
  app.parse(argv);
  return flags.apply(config);
}

TEST_F(RunInputTest, ABareBooleanFlagMeansTrueAndABareNumberFlagIsAnError) {
  RunConfig bare;
  Status s = apply_flags({"--cascade"}, &bare);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_TRUE(bare.cascade);
  RunConfig followed;
  s = apply_flags({"--cascade", "--islands", "3"}, &followed);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_TRUE(followed.cascade);
  EXPECT_EQ(followed.islands, 3);
  RunConfig off;
  s = apply_flags({"--cascade", "false"}, &off);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_FALSE(off.cascade);
  RunConfig missing;
  s = apply_flags({"--parallel"}, &missing);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("--parallel needs a value"), std::string::npos) << s.message();
}

TEST_F(RunInputTest, ValidNamesAndLimitsAreAccepted) {
  EXPECT_TRUE(validate_run_name(std::string(200, 'x')).ok());
  EXPECT_TRUE(validate_run_name("run-1_a.b").ok());
  EXPECT_TRUE(validate_run_name("\xc3\xa9t\xc3\xa9").ok()) << "UTF-8 letters are fine";
  RunConfig config;
  config.max_candidates = kMaxCandidatesLimit;
  EXPECT_TRUE(config.validate().ok());
}

}  // namespace
}  // namespace adrs

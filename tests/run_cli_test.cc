// adrs run / resume / status / best / show / lineage / replay / export from outside, as a user
// runs them: outputs, refusals with reasons, bad run directories, a compiler that hangs, a full
// disk, and inspection while another process runs the run.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "driver/run/run_db.h"
#include "tests/test_util.h"

namespace adrs {
namespace {

namespace fs = std::filesystem;
using test::run_adrs;

class RunCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (fs::temp_directory_path() / ("adrs-cli-" + std::to_string(::getpid()) + "-" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name())).string();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  // A small, quick run on the smoke workload sharing the tests' compile cache.
  std::string small(const std::string& name, int budget) const {
    return "run --config runs/demo.toml --workload smoke --max-candidates " + std::to_string(budget) + " --runs-dir " + dir_ +
           " --name " + name + " --cache-dir " + test::binary_dir() + "/test-cache/run-cli --quiet";
  }
  static nlohmann::json json_of(const test::CommandOutput& out) {
    nlohmann::json j = nlohmann::json::parse(out.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << out.out << out.err;
    return j;
  }
  std::string dir_;
};

TEST_F(RunCliTest, RunThenInspectEveryWay) {
  const auto run = run_adrs(small("a", 8) + " --json");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const nlohmann::json summary = json_of(run);
  ASSERT_TRUE(summary["best"].is_object()) << run.out;
  const std::string best = std::to_string(summary["best"]["id"].get<int64_t>());
  const std::string r = dir_ + "/a";
  EXPECT_EQ(summary["candidates"]["total"], 8);

  const nlohmann::json status = json_of(run_adrs("status " + r + " --json"));
  EXPECT_EQ(status["status"], "stopped");
  EXPECT_EQ(status["stop_reason"], "max_candidates");
  EXPECT_NE(status["explanation"].get<std::string>().find("resume"), std::string::npos);

  const nlohmann::json top = json_of(run_adrs("best " + r + " --top 3 --json"));
  ASSERT_FALSE(top.empty());
  EXPECT_EQ(std::to_string(top[0]["id"].get<int64_t>()), best);
  for (size_t i = 1; i < top.size(); ++i) EXPECT_GE(top[i - 1]["score"].get<double>(), top[i]["score"].get<double>());

  const nlohmann::json lineage = json_of(run_adrs("lineage " + r + " " + best + " --json"));
  EXPECT_EQ(lineage[0]["id"], 1);
  EXPECT_EQ(std::to_string(lineage.back()["id"].get<int64_t>()), best);

  const auto show = run_adrs("show " + r + " " + best + " --diff");
  EXPECT_EQ(show.exit_code, 0) << show.err;
  EXPECT_NE(show.out.find("error by normalized entropy"), std::string::npos) << show.out;

  const std::string exported = dir_ + "/best.cpp";
  ASSERT_EQ(run_adrs("export " + r + " " + best + " -o " + exported).exit_code, 0);
  EXPECT_EQ(test::read_file(exported), json_of(run_adrs("show " + r + " " + best + " --json"))["source"]);

  const auto replay = run_adrs("replay " + r + " " + best + " --json");
  EXPECT_EQ(replay.exit_code, 0) << replay.err;
  EXPECT_EQ(json_of(replay)["identical"], true) << replay.out;

  // The table form names the best candidate and how to inspect it.
  const auto human = run_adrs("status " + r);
  EXPECT_NE(human.out.find("inspect the best candidate"), std::string::npos) << human.out;
}

TEST_F(RunCliTest, ResumeRefusesAChangedSearchButTakesANewBudget) {
  ASSERT_EQ(run_adrs(small("b", 4)).exit_code, 0);
  const std::string r = dir_ + "/b";
  auto out = run_adrs("resume " + r + " --islands 4");
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_NE(out.err.find("search.islands: 2 -> 4"), std::string::npos) << out.err;

  {
    std::unique_ptr<RunDb> db;
    ASSERT_TRUE(RunDb::Open(r + "/run.db", RunDb::Mode::kReadWrite, &db).ok());
    ASSERT_TRUE(db->set_state("adrs_version", "0.0.1").ok());
  }
  out = run_adrs("resume " + r + " --max-candidates 6");
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_NE(out.err.find("made by adrs 0.0.1"), std::string::npos) << out.err;

  out = run_adrs("resume " + r + " --max-candidates 6 --allow-version-change --json");
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(json_of(out)["candidates"]["total"], 6);
}

TEST_F(RunCliTest, BadRunDirectoriesAndConfigsGetClearErrors) {
  auto out = run_adrs("status " + dir_ + "/missing");
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_NE(out.err.find("no run directory"), std::string::npos) << out.err;
  out = run_adrs("best " + dir_);
  EXPECT_NE(out.err.find("not an adrs run"), std::string::npos) << out.err;

  fs::create_directories(dir_ + "/corrupt");
  { std::ofstream(dir_ + "/corrupt/run.db") << std::string(8192, 'z'); }
  for (const char* command : {"status", "resume"}) {
    out = run_adrs(std::string(command) + " " + dir_ + "/corrupt");
    EXPECT_EQ(out.exit_code, 2) << command;
    EXPECT_NE(out.err.find("damaged"), std::string::npos) << command << ": " << out.err;
  }
  EXPECT_EQ(test::read_file(dir_ + "/corrupt/run.db"), std::string(8192, 'z')) << "a damaged file is never rewritten";

  { std::ofstream(dir_ + "/typo.toml") << "[search]\nislandz = 3\n"; }
  out = run_adrs("run --config " + dir_ + "/typo.toml --runs-dir " + dir_);
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_NE(out.err.find("unknown key search.islandz"), std::string::npos) << out.err;
  out = run_adrs(small("c", 4) + " --parallel 257");
  EXPECT_NE(out.err.find("search.parallel must be in 0..256"), std::string::npos) << out.err;
}

// The seed is compiled and scored before the run directory exists: a seed that fails leaves no
// runs/<name> behind to block the name.
TEST_F(RunCliTest, ASeedThatHangsTheCompilerFailsClearlyAndLeavesNoRun) {
  const auto out = run_adrs(small("hang", 3) + " --seed-masker tests/maskers/hang_compiler.cpp --compile-timeout-s 2");
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_NE(out.err.find("seed masker failed (compile_error)"), std::string::npos) << out.err;
  EXPECT_NE(out.err.find("compile timeout"), std::string::npos) << out.err;
  EXPECT_NE(out.err.find("no run was created"), std::string::npos) << out.err;
  EXPECT_FALSE(fs::exists(dir_ + "/hang"));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 0) << "no temporary directory is left";
  EXPECT_EQ(run_adrs(small("hang", 3)).exit_code, 0) << "the name is free for a good seed";
}

// A file-size limit stands in for a full disk. At creation: nothing is created and the message
// says so. In a running run: it stops with a clear message (a fault, not an interruption), and
// resume (without the limit) finishes it with every row intact.
TEST_F(RunCliTest, AFullDiskStopsTheRunClearlyAndResumeFinishesIt) {
  const std::string limited = "--version >/dev/null 2>&1; bash -c 'ulimit -f 160; exec " + test::binary_dir() + "/adrs ";
  auto out = run_adrs(limited + small("disk", 40) + "'");
  EXPECT_EQ(out.exit_code, 1) << out.err;
  EXPECT_NE(out.err.find("disk full"), std::string::npos) << out.err;
  EXPECT_NE(out.err.find("no run was created"), std::string::npos) << out.err;
  EXPECT_FALSE(fs::exists(dir_ + "/disk"));

  ASSERT_EQ(run_adrs(small("disk", 2)).exit_code, 0);
  out = run_adrs(limited + "resume " + dir_ + "/disk --max-candidates 40 --quiet'");
  EXPECT_EQ(out.exit_code, 1) << out.err;
  EXPECT_NE(out.err.find("disk full"), std::string::npos) << out.err;
  const nlohmann::json stopped = json_of(run_adrs("status " + dir_ + "/disk --json"));
  EXPECT_NE(stopped["status"], "interrupted") << stopped.dump();
  const auto resumed = run_adrs("resume " + dir_ + "/disk --quiet --json");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  const nlohmann::json j = json_of(resumed);
  EXPECT_EQ(j["candidates"]["total"], 40);
  EXPECT_EQ(j["candidates"]["finished"], 40);
  // No candidate failed because of the disk: the failures are exactly those of the same run made
  // without the limit (a candidate may fail on its own, e.g. an out-of-range index).
  const auto reference = run_adrs(small("reference", 40) + " --json");
  ASSERT_EQ(reference.exit_code, 0) << reference.err;
  EXPECT_EQ(j["candidates"]["failures_by_reason"], json_of(reference)["candidates"]["failures_by_reason"]);
  EXPECT_EQ(j["candidates"]["by_status"], json_of(reference)["candidates"]["by_status"]);
  EXPECT_FALSE(j["candidates"]["failures_by_reason"].contains("internal_error"));
}

TEST_F(RunCliTest, InspectionWorksWhileAnotherProcessRunsTheRun) {
  const std::string log = dir_ + "/live.log";
  // A budget far larger than the checks need (a warm cache finishes 30 candidates in under a
  // second, before the second process could be refused); Ctrl-C ends it afterwards.
  const std::string start = "cd " + test::source_dir() + " && " + test::binary_dir() + "/adrs " + small("live", 100000) +
                            " >" + log + " 2>&1 & echo $! >" + dir_ + "/live.pid";
  ASSERT_EQ(std::system(start.c_str()), 0);
  const std::string r = dir_ + "/live";
  bool saw_running = false;
  for (int i = 0; i < 600 && !saw_running; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const auto status = run_adrs("status " + r + " --json");
    if (status.exit_code != 0) continue;
    const nlohmann::json j = nlohmann::json::parse(status.out, nullptr, false);
    saw_running = j.is_object() && j["status"] == "running" && j["candidates"]["finished"].get<int64_t>() >= 2;
  }
  ASSERT_TRUE(saw_running) << test::read_file(log);
  EXPECT_EQ(run_adrs("best " + r + " --json").exit_code, 0);
  EXPECT_EQ(run_adrs("show " + r + " 1").exit_code, 0);
  EXPECT_EQ(run_adrs("lineage " + r + " 2").exit_code, 0);
  EXPECT_EQ(run_adrs("export " + r + " 1 -o " + dir_ + "/one.cpp").exit_code, 0);
  const auto second = run_adrs("resume " + r);
  EXPECT_EQ(second.exit_code, 3) << "a second process must not run the same run";
  EXPECT_NE(second.err.find("another adrs process"), std::string::npos) << second.err;
  ::kill(std::stoi(test::read_file(dir_ + "/live.pid")), SIGINT);
  for (int i = 0; i < 1200; ++i) {  // let it stop, so the directory can be removed
    const nlohmann::json j = nlohmann::json::parse(run_adrs("status " + r + " --json").out, nullptr, false);
    if (j.is_object() && j["status"] != "running") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace
}  // namespace adrs

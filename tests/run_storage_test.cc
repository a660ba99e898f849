// Run storage from outside: a run directory deleted mid-run, read-only storage, a full tmpfs,
// foreign, damaged, newer and half-created databases, and the lock's pid. Each storage error
// names the file and SQLite's error; nothing is written to a file before it is known to be an
// adrs run database; nothing infrastructure-caused is stored as a failed candidate.
#include <sys/mount.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/fault_util.h"

namespace adrs {
namespace {

namespace fs = std::filesystem;
using test::run_adrs;

class RunStorageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (fs::temp_directory_path() / ("adrs-storage-" + std::to_string(::getpid()) + "-" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name())).string();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!mounted_.empty()) ::umount2(mounted_.c_str(), MNT_DETACH);
    fs::remove_all(dir_);
  }
  std::string small(const std::string& runs_dir, const std::string& name, int budget) const {
    return "run --config runs/demo.toml --workload smoke --max-candidates " + std::to_string(budget) + " --runs-dir " + runs_dir +
           " --name " + name + " --cache-dir " + test::binary_dir() + "/test-cache/storage --quiet";
  }
  // A tmpfs of `size` at dir_/mnt; false when this machine refuses the mount.
  bool mount_tmpfs(const std::string& size) {
    const std::string at = dir_ + "/mnt";
    fs::create_directories(at);
    if (::mount("tmpfs", at.c_str(), "tmpfs", 0, ("size=" + size).c_str()) != 0) return false;
    mounted_ = at;
    return true;
  }
  bool remount(const std::string& options, unsigned long flags) {
    return ::mount("tmpfs", mounted_.c_str(), "tmpfs", MS_REMOUNT | flags, options.c_str()) == 0;
  }
  std::string dir_, mounted_;
};

TEST_F(RunStorageTest, ARunDirectoryDeletedMidRunStopsTheRunWithAnError) {
  const std::string log = dir_ + "/live.log", runs = dir_ + "/runs";
  // The default cache (runs/<name>/cache), so a compile starting after the deletion could put
  // the directory back: it must not stay.
  std::string args = small(runs, "gone", 100000);  // still running when its directory goes
  args = args.substr(0, args.find(" --cache-dir")) + " --quiet";
  const std::string start = "cd " + test::source_dir() + " && (" + test::binary_dir() + "/adrs " + args + " >" + log +
                            " 2>&1; echo $? >" + dir_ + "/exit) &";
  ASSERT_EQ(std::system(start.c_str()), 0);
  bool working = false;
  for (int i = 0; i < 600 && !working; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const auto status = run_adrs("status " + runs + "/gone --json");
    const nlohmann::json j = nlohmann::json::parse(status.out, nullptr, false);
    working = j.is_object() && j["status"] == "running" && j["candidates"]["finished"].get<int64_t>() >= 2;
  }
  ASSERT_TRUE(working) << test::read_file(log);
  fs::remove_all(runs + "/gone");
  for (int i = 0; i < 600 && !fs::exists(dir_ + "/exit"); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_TRUE(fs::exists(dir_ + "/exit")) << "the run must notice within seconds\n" << test::read_file(log);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(test::read_file(dir_ + "/exit"), "1\n") << test::read_file(log);
  EXPECT_NE(test::read_file(log).find("was deleted while adrs used it"), std::string::npos) << test::read_file(log);
  EXPECT_FALSE(fs::exists(runs + "/gone")) << "nothing (not even cache/) is re-created";
}

TEST_F(RunStorageTest, ARunOnReadOnlyStorageCanBeInspectedButNotResumed) {
  if (!mount_tmpfs("64m")) GTEST_SKIP() << "mount refused here (needs root and mount rights)";
  const std::string r = mounted_ + "/ro";
  ASSERT_EQ(run_adrs(small(mounted_, "ro", 4)).exit_code, 0);
  ASSERT_TRUE(remount("size=64m", MS_RDONLY));
  for (const std::string& command : {"status " + r, "status " + r + " --json", "best " + r, "show " + r + " 1",
                                    "lineage " + r + " 2", "export " + r + " 1 -o " + dir_ + "/one.cpp", "replay " + r + " 1"}) {
    const auto out = run_adrs(command);
    EXPECT_EQ(out.exit_code, 0) << command << ": " << out.err;
  }
  const auto resumed = run_adrs("resume " + r + " --max-candidates 6");
  EXPECT_NE(resumed.exit_code, 0);
  EXPECT_NE(resumed.err.find("read-only"), std::string::npos) << resumed.err;
}

// A tmpfs too small for the run stands in for a disk that fills: the run (or its creation) stops
// with a fault, never a failed candidate; after the disk grows, resume finishes and the run equals
// an uninterrupted one.
TEST_F(RunStorageTest, AFullTmpfsStopsTheRunAndAfterGrowingItResumeFinishesIt) {
  if (!mount_tmpfs("64m")) GTEST_SKIP() << "mount refused here (needs root and mount rights)";
  ASSERT_EQ(run_adrs(small(dir_, "straight", 8)).exit_code, 0);
  const std::vector<CandidateRow> want = test::rows_of(dir_ + "/straight");
  int stopped = 0;
  for (const char* size : {"12k", "40k", "80k", "120k"}) {
    SCOPED_TRACE(std::string("tmpfs of ") + size);
    const std::string name = std::string("full-") + size;
    ASSERT_TRUE(remount(std::string("size=") + size, 0));
    const auto out = run_adrs(small(mounted_, name, 8));
    if (out.exit_code != 0) ++stopped;
    EXPECT_NE(out.exit_code, 130) << out.err;
    EXPECT_EQ(out.err.find("interrupted"), std::string::npos) << out.err;
    ASSERT_TRUE(remount("size=64m", 0));
    const std::string r = mounted_ + "/" + name;
    const auto finished = fs::exists(r) ? run_adrs("resume " + r + " --quiet") : run_adrs(small(mounted_, name, 8));
    ASSERT_EQ(finished.exit_code, 0) << finished.err;
    EXPECT_EQ(test::creation_leftovers(mounted_), 0);
    EXPECT_EQ(test::integrity_of(r + "/run.db"), "ok");
    test::expect_same_run(test::rows_of(r), want, size);
    fs::remove_all(r);
  }
  EXPECT_GE(stopped, 2) << "the small sizes must really fill up";
}

TEST_F(RunStorageTest, AForeignSqliteFileIsRefusedWithoutBeingTouched) {
  fs::create_directories(dir_ + "/foreign");
  const std::string path = dir_ + "/foreign/run.db";
  ASSERT_EQ(test::sqlite_exec(path, "CREATE TABLE notes (x TEXT); INSERT INTO notes VALUES ('mine');"), "");
  const std::string before = test::read_file(path);
  ASSERT_FALSE(before.empty());
  for (const char* command : {"status", "best", "resume", "show"}) {
    const auto out = run_adrs(std::string(command) + " " + dir_ + "/foreign" + (std::string(command) == "show" ? " 1" : ""));
    EXPECT_NE(out.exit_code, 0) << command;
    EXPECT_NE(out.err.find("not an adrs run database"), std::string::npos) << command << ": " << out.err;
  }
  EXPECT_EQ(test::read_file(path), before) << "not even the switch to WAL happens";
  EXPECT_FALSE(fs::exists(path + "-wal"));
  const auto run = run_adrs(small(dir_, "foreign", 2));
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find("leaves it alone"), std::string::npos) << run.err;
  EXPECT_EQ(test::read_file(path), before);
}

TEST_F(RunStorageTest, ADamagedDatabaseNamesSqlitesErrorAndTheFileNeverNoCandidate) {
  ASSERT_EQ(run_adrs(small(dir_, "d", 4)).exit_code, 0);
  const std::string r = dir_ + "/d", path = r + "/run.db";
  {
    // Random bytes over every page but the header page: the tables are unreadable.
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(0, std::ios::end);
    const std::streamoff size = f.tellg();
    ASSERT_GT(size, 8192);
    std::mt19937 rng(7);
    f.seekp(4096);
    for (std::streamoff i = 4096; i < size; ++i) f.put(static_cast<char>(rng()));
  }
  for (const std::string& command : {"show " + r + " 1", "lineage " + r + " 1", "export " + r + " 1 -o " + dir_ + "/x.cpp",
                                    "best " + r, "status " + r, "replay " + r + " 1", "resume " + r}) {
    const auto out = run_adrs(command);
    EXPECT_NE(out.exit_code, 0) << command;
    EXPECT_EQ(out.err.find("no candidate"), std::string::npos) << command << ": " << out.err;
    EXPECT_NE(out.err.find(path), std::string::npos) << command << " names the file: " << out.err;
    EXPECT_TRUE(out.err.find("malformed") != std::string::npos || out.err.find("damaged") != std::string::npos ||
                out.err.find("not a database") != std::string::npos)
        << command << " gives SQLite's error: " << out.err;
  }
  const auto run = run_adrs(small(dir_, "d", 4) + " --force");
  EXPECT_EQ(run.exit_code, 2) << "--force never removes a run that is not a leftover";
  EXPECT_TRUE(fs::exists(path));
}

TEST_F(RunStorageTest, ADatabaseOfANewerAdrsIsRefusedUnchanged) {
  ASSERT_EQ(run_adrs(small(dir_, "new", 2)).exit_code, 0);
  const std::string path = dir_ + "/new/run.db";
  ASSERT_EQ(test::sqlite_exec(path, "PRAGMA user_version = 99"), "");
  const std::string before = test::read_file(path);
  for (const char* command : {"status", "resume"}) {
    const auto out = run_adrs(std::string(command) + " " + dir_ + "/new");
    EXPECT_NE(out.exit_code, 0);
    EXPECT_NE(out.err.find("newer adrs"), std::string::npos) << command << ": " << out.err;
  }
  EXPECT_EQ(test::read_file(path), before);
}

// What a creation killed by an older adrs left at runs/<name>: an empty run.db, a database with a
// config but no seed row, a directory with only a lock. resume explains; run refuses without
// --force and starts over with it.
TEST_F(RunStorageTest, LeftoversOfAnUnfinishedCreationAreRecognized) {
  fs::create_directories(dir_ + "/empty");
  { std::ofstream(dir_ + "/empty/run.db"); }
  fs::create_directories(dir_ + "/lockonly");
  { std::ofstream(dir_ + "/lockonly/lock") << "123\n"; }
  fs::create_directories(dir_ + "/noseed");
  {
    std::unique_ptr<RunDb> db;
    ASSERT_TRUE(RunDb::Open(dir_ + "/noseed/run.db", RunDb::Mode::kCreate, &db).ok());
    ASSERT_TRUE(db->set_state("config", "{}").ok());
  }
  for (const char* name : {"empty", "lockonly", "noseed"}) {
    SCOPED_TRACE(name);
    const auto resumed = run_adrs("resume " + dir_ + "/" + name);
    EXPECT_EQ(resumed.exit_code, 2);
    EXPECT_NE(resumed.err.find("creation did not finish"), std::string::npos) << resumed.err;
    EXPECT_NE(resumed.err.find("--force"), std::string::npos) << resumed.err;
    const auto refused = run_adrs(small(dir_, name, 2));
    EXPECT_EQ(refused.exit_code, 2);
    EXPECT_NE(refused.err.find("--force"), std::string::npos) << refused.err;
    const auto forced = run_adrs(small(dir_, name, 2) + " --force");
    EXPECT_EQ(forced.exit_code, 0) << forced.err;
    EXPECT_EQ(test::rows_of(dir_ + "/" + name).size(), 2u);
  }
  const auto again = run_adrs(small(dir_, "empty", 2) + " --force");
  EXPECT_EQ(again.exit_code, 2) << "--force never removes a complete run";
  EXPECT_NE(again.err.find("already holds a run"), std::string::npos) << again.err;
}

TEST_F(RunStorageTest, AnUnknownWorkloadLeavesNoRunBehind) {
  std::string args = small(dir_, "w", 2);
  args.replace(args.find("--workload smoke"), 16, "--workload no-such-workload");
  const auto out = run_adrs(args);
  EXPECT_EQ(out.exit_code, 2) << out.err;
  EXPECT_NE(out.err.find("no-such-workload"), std::string::npos) << out.err;
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 0) << "nothing at runs/<name>, no temporary";
  EXPECT_EQ(run_adrs(small(dir_, "w", 2)).exit_code, 0) << "the name is free";
}

TEST_F(RunStorageTest, AMissingTemporaryDirectoryIsAFaultAndCreatesNothing) {
  const auto out = run_adrs("--version >/dev/null 2>&1; TMPDIR=" + dir_ + "/no-such-dir " + test::binary_dir() + "/adrs " + small(dir_, "t", 2));
  EXPECT_EQ(out.exit_code, 1) << out.err;
  EXPECT_NE(out.err.find("temporary directory"), std::string::npos) << out.err;
  EXPECT_NE(out.err.find("no run was created"), std::string::npos) << out.err;
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 0);
}

TEST_F(RunStorageTest, TheTemporaryDirectoryOfAKilledCreationIsRemovedByTheNextRun) {
  fs::create_directories(dir_ + "/.old.creating-999999999");
  { std::ofstream(dir_ + "/.old.creating-999999999/run.db") << "partial"; }
  { std::ofstream(dir_ + "/.old.creating-999999999/lock") << "999999999\n"; }  // its holder is gone
  ASSERT_EQ(run_adrs(small(dir_, "next", 2)).exit_code, 0);
  EXPECT_FALSE(fs::exists(dir_ + "/.old.creating-999999999"));
}

TEST_F(RunStorageTest, TheLockAlwaysNamesItsHoldersPid) {
  ASSERT_EQ(run_adrs(small(dir_, "l", 2)).exit_code, 0);
  const std::string lock = dir_ + "/l/lock";
  // A holder that has not written its pid yet (the moment between flock and pwrite).
  { std::ofstream(lock, std::ios::trunc); }
  const std::string hold = "flock -x " + lock + " -c 'sleep 3' & echo $! > " + dir_ + "/holder";
  ASSERT_EQ(std::system(hold.c_str()), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const auto out = run_adrs("resume " + dir_ + "/l");
  EXPECT_EQ(out.exit_code, 3) << out.err;
  EXPECT_EQ(out.err.find("pid ?"), std::string::npos) << out.err;
  EXPECT_NE(out.err.find("another adrs process (pid "), std::string::npos) << out.err;
  const size_t at = out.err.find("(pid ") + 5;
  EXPECT_TRUE(at < out.err.size() && std::isdigit(static_cast<unsigned char>(out.err[at]))) << out.err;
  std::this_thread::sleep_for(std::chrono::milliseconds(2600));
}

}  // namespace
}  // namespace adrs

// kill -9 at 20 random moments of a run, resuming each time: after each kill the database passes
// PRAGMA integrity_check; at the end every row is terminal,
// the candidate count equals the budget, the lineage is a forest rooted at the seed, the choices
// equal those of an uninterrupted run, and the best score reproduces under replay.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <random>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "driver/run/run_db.h"
#include "tests/fault_util.h"
#include "tests/test_util.h"

namespace adrs {
namespace {

namespace fs = std::filesystem;

// Starts build/adrs with `args` in the source directory; output to `log`.
pid_t spawn_adrs(const std::vector<std::string>& args, const std::string& log) {
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  if (::chdir(test::source_dir().c_str()) != 0) ::_exit(120);
  FILE* out = std::fopen(log.c_str(), "a");
  if (out) {
    ::dup2(fileno(out), 1);
    ::dup2(fileno(out), 2);
  }
  std::vector<std::string> full{test::binary_dir() + "/adrs"};
  full.insert(full.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : full) argv.push_back(a.data());
  argv.push_back(nullptr);
  ::execv(argv[0], argv.data());
  ::_exit(121);
}

int wait_exit(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::vector<CandidateRow> rows_of(const std::string& run_dir) {
  std::unique_ptr<RunDb> db;
  EXPECT_TRUE(RunDb::Open(run_dir + "/run.db", RunDb::Mode::kReadOnly, &db).ok());
  std::vector<CandidateRow> rows;
  if (db) {
    EXPECT_TRUE(db->list_candidates(&rows, false).ok());
  }
  return rows;
}

// Starts the run `killed` (or resumes it) and kills it after a random delay, 20 times, then lets
// a last resume finish (*finished: it exited with 0). Returns how many kills landed.
int kill_twenty_times(const std::string& dir, const std::vector<std::string>& common, bool* finished) {
  const std::string killed = dir + "/killed", log = dir + "/log.txt";
  std::mt19937 rng(12345);
  std::uniform_int_distribution<int> delay_ms(150, 1500);
  int kills = 0;
  for (int round = 0; round < 21; ++round) {
    std::vector<std::string> args;
    if (!fs::exists(killed)) {  // creation is atomic: a kill before it finished left nothing to resume
      args = common;
      args.insert(args.end(), {"--name", "killed"});
      args.insert(args.begin(), "run");
    } else {
      args = {"resume", killed, "--quiet"};
    }
    const pid_t pid = spawn_adrs(args, log);
    if (round == 20) {
      const int status = wait_exit(pid);
      EXPECT_EQ(status, 0) << test::read_file(log);
      *finished = status == 0;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(rng)));
    if (::kill(pid, SIGKILL) == 0) ++kills;
    wait_exit(pid);
    // Durability: a kill during writes never leaves the database inconsistent.
    if (fs::exists(killed + "/run.db")) {
      EXPECT_EQ(test::integrity_of(killed + "/run.db"), "ok") << "after kill " << kills;
    }
  }
  return kills;
}

// The killed run `a` holds the same candidates as the straight run `b`, and its lineage is a
// forest of evaluated parents rooted at the seed. Returns the best evaluated candidate of `a`.
const CandidateRow* expect_same_candidates(const std::vector<CandidateRow>& a, const std::vector<CandidateRow>& b) {
  const CandidateRow* best = nullptr;
  // Whether a copy is stored as "duplicate" depends on which twin was proposed first; the result
  // it stands for does not.
  auto result_of = [](const std::vector<CandidateRow>& rows, const CandidateRow& row) {
    return row.duplicate_of ? rows[*row.duplicate_of - 1].score : row.score;
  };
  for (size_t i = 0; i < a.size(); ++i) {
    const CandidateRow& r = a[i];
    EXPECT_EQ(r.id, static_cast<int64_t>(i + 1));
    EXPECT_TRUE(r.terminal()) << "candidate " << r.id << " is " << r.status;
    if (r.id == 1) {
      EXPECT_FALSE(r.parent_id.has_value());
    } else if (!r.parent_id) {
      ADD_FAILURE() << "candidate " << r.id << " has no parent";
      continue;
    } else {
      EXPECT_LT(*r.parent_id, r.id) << "the lineage is a forest rooted at the seed";
      EXPECT_EQ(a[*r.parent_id - 1].status, CandidateStatus::kEvaluated) << "parents are evaluated candidates";
    }
    EXPECT_EQ(r.parent_id, b[i].parent_id) << "candidate " << r.id;
    EXPECT_EQ(r.mutation, b[i].mutation) << "candidate " << r.id;
    EXPECT_EQ(r.source_hash, b[i].source_hash) << "candidate " << r.id;
    EXPECT_EQ(result_of(a, r), result_of(b, b[i])) << "candidate " << r.id;
    if (r.status == CandidateStatus::kEvaluated && (!best || *r.score > *best->score)) best = &r;
  }
  return best;
}

TEST(RunKill, KilledTwentyTimesThenResumedEqualsAnUninterruptedRun) {
  const std::string dir = (fs::temp_directory_path() / ("adrs-kill-" + std::to_string(::getpid()))).string();
  fs::remove_all(dir);
  fs::create_directories(dir);
  const int budget = 24;
  const std::vector<std::string> common{"--config", "runs/demo.toml", "--workload", "smoke", "--max-candidates",
                                        std::to_string(budget), "--runs-dir", dir, "--quiet"};
  const std::string killed = dir + "/killed", log = dir + "/log.txt";
  bool finished = false;
  const int kills = kill_twenty_times(dir, common, &finished);
  ASSERT_TRUE(finished);
  EXPECT_GE(kills, 15) << "most kills should land while the run is working";

  std::vector<std::string> straight_args{"run"};
  straight_args.insert(straight_args.end(), common.begin(), common.end());
  straight_args.insert(straight_args.end(), {"--name", "straight", "--cache-dir", killed + "/cache"});
  ASSERT_EQ(wait_exit(spawn_adrs(straight_args, log)), 0) << test::read_file(log);

  const std::vector<CandidateRow> a = rows_of(killed), b = rows_of(dir + "/straight");
  ASSERT_EQ(static_cast<int>(a.size()), budget);
  ASSERT_EQ(a.size(), b.size());
  const CandidateRow* best = expect_same_candidates(a, b);
  ASSERT_NE(best, nullptr);
  const auto replay = test::run_adrs("replay " + killed + " " + std::to_string(best->id) + " --json");
  ASSERT_EQ(replay.exit_code, 0) << replay.err;
  const nlohmann::json j = nlohmann::json::parse(replay.out);
  EXPECT_EQ(j["replayed"]["score"].get<double>(), *best->score);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace adrs

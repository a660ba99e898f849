// The asynchronous schedule: kill -9 at random moments, resume each time. Afterwards every row is
// terminal, the budget is met exactly (nothing lost, nothing twice), the completion order is
// recorded for every row (1..N, no gaps), no two rows both count as the original of one source,
// and every choice is recomputed from the recorded order: the population of the first `view`
// rows in applied_seq order chooses the same parent, island and inspirations again.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "driver/propose/building_blocks.h"
#include "driver/run/population.h"
#include "driver/run/run_db.h"
#include "driver/run/run_session.h"
#include "tests/test_util.h"

namespace adrs {
namespace {

namespace fs = std::filesystem;

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

// Recomputes candidate `row`'s choice from the rows its request says it saw.
void expect_choice_reproduces(const RunConfig& config, const std::vector<const CandidateRow*>& by_seq,
                              const std::map<int64_t, const CandidateRow*>& by_id, const CandidateRow& row) {
  const nlohmann::json request = nlohmann::json::parse(row.request_json);
  ASSERT_TRUE(request.contains("view")) << "candidate " << row.id << " records no view";
  const int64_t view = request["view"].get<int64_t>();
  ASSERT_LE(view, static_cast<int64_t>(by_seq.size()));
  Population population(config, false, recipe_size_feature);  // as the loop makes it for the offline proposer
  for (int64_t i = 0; i < view; ++i) {
    const CandidateRow& seen = *by_seq[i];
    EXPECT_NE(seen.id, row.id) << "candidate " << row.id << " saw itself";
    const CandidateRow* resolved = &seen;
    while (resolved->duplicate_of) resolved = by_id.at(*resolved->duplicate_of);
    population.add(seen, *resolved);
  }
  const Choice again = population.choose(row.id, config.seed);
  EXPECT_EQ(row.parent_id, again.parent_id) << "candidate " << row.id;
  EXPECT_EQ(row.island, again.island) << "candidate " << row.id;
  EXPECT_EQ(request["inspirations"].get<std::vector<int64_t>>(), again.inspiration_ids) << "candidate " << row.id;
}

// Starts an async run and kills it at random moments (seeded), resuming each time, until a last
// resume finishes it. Returns the number of kills that hit a live process.
int run_with_kills(const std::string& dir, const std::string& run_dir, const std::string& log, int budget) {
  std::mt19937 rng(777);
  std::uniform_int_distribution<int> delay_ms(300, 1500);
  int kills = 0;
  for (int round = 0; round < 7; ++round) {
    std::vector<std::string> args;
    if (!fs::exists(run_dir)) {
      args = {"run", "--config", "runs/demo.toml", "--workload", "smoke", "--max-candidates", std::to_string(budget),
              "--runs-dir", dir, "--name", "async", "--schedule", "async", "--parallel", "3", "--eval-workers", "2", "--quiet"};
    } else {
      args = {"resume", run_dir, "--quiet"};
    }
    const pid_t pid = spawn_adrs(args, log);
    if (round == 6) {
      EXPECT_EQ(wait_exit(pid), 0) << test::read_file(log);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(rng)));
    if (::kill(pid, SIGKILL) == 0) ++kills;
    wait_exit(pid);
  }
  return kills;
}

// Row `i` of the finished run: terminal, with a completion order, no unmarked repeat of a source
// or of selections, and a duplicate's chain of twins ends at an original.
void check_row(const std::vector<CandidateRow>& rows, size_t i, std::set<std::string>* originals, std::set<std::string>* behaviors) {
  const CandidateRow& r = rows[i];
  EXPECT_EQ(r.id, static_cast<int64_t>(i + 1));
  EXPECT_TRUE(r.terminal()) << "candidate " << r.id << " is " << candidate_status_name(r.status);
  ASSERT_TRUE(r.applied_seq.has_value()) << "candidate " << r.id << " has no recorded completion order";
  if (r.status != CandidateStatus::kDuplicate && !r.source_hash.empty()) {
    EXPECT_TRUE(originals->insert(r.source_hash).second) << "candidate " << r.id << " repeats another's source but is no duplicate";
  }
  if (r.status != CandidateStatus::kDuplicate && !r.behavior_hash.empty()) {
    EXPECT_TRUE(behaviors->insert(r.behavior_hash).second) << "candidate " << r.id << " repeats another's selections but is no duplicate";
  }
  if (!r.duplicate_of) return;
  // It points to an earlier-stored twin; that one may have turned out a behavioral duplicate
  // itself after the lookup, but the chain ends at an original.
  const CandidateRow& twin = rows[*r.duplicate_of - 1];
  EXPECT_TRUE(twin.source_hash == r.source_hash || (!r.behavior_hash.empty() && twin.behavior_hash == r.behavior_hash))
      << "candidate " << r.id << " is a duplicate of " << twin.id << " but shares neither source nor selections";
  const CandidateRow* end = &twin;
  for (int hops = 0; end->duplicate_of && hops < 16; ++hops) end = &rows[*end->duplicate_of - 1];
  EXPECT_NE(end->status, CandidateStatus::kDuplicate) << "candidate " << r.id << "'s chain of duplicates has no original";
}

TEST(RunAsync, KilledAndResumedAsyncRunLosesNothingDuplicatesNothingAndEveryChoiceIsReproducible) {
  const std::string dir = (fs::temp_directory_path() / ("adrs-async-" + std::to_string(::getpid()))).string();
  fs::remove_all(dir);
  fs::create_directories(dir);
  const int budget = 30;
  const std::string run_dir = dir + "/async";
  EXPECT_GE(run_with_kills(dir, run_dir, dir + "/log.txt", budget), 4);
  ASSERT_FALSE(::testing::Test::HasFatalFailure());

  std::unique_ptr<RunDb> db;
  ASSERT_TRUE(RunDb::Open(run_dir + "/run.db", RunDb::Mode::kReadOnly, &db).ok());
  RunConfig config;
  ASSERT_TRUE(stored_config(*db, &config).ok());
  EXPECT_EQ(config.schedule, "async");
  std::vector<CandidateRow> rows;
  ASSERT_TRUE(db->list_candidates(&rows, true).ok());
  ASSERT_EQ(static_cast<int>(rows.size()), budget);
  std::set<std::string> originals, behaviors;
  for (size_t i = 0; i < rows.size(); ++i) check_row(rows, i, &originals, &behaviors);
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  std::map<int64_t, const CandidateRow*> by_id;
  std::vector<const CandidateRow*> by_seq;
  for (const CandidateRow& r : rows) {
    by_id[r.id] = &r;
    by_seq.push_back(&r);
  }
  std::sort(by_seq.begin(), by_seq.end(), [](auto* a, auto* b) { return *a->applied_seq < *b->applied_seq; });
  for (size_t i = 0; i < by_seq.size(); ++i) EXPECT_EQ(*by_seq[i]->applied_seq, static_cast<int64_t>(i + 1));
  // A duplicate enters the population after the row it copies.
  for (const CandidateRow& r : rows)
    if (r.duplicate_of) {
      EXPECT_GT(*r.applied_seq, *rows[*r.duplicate_of - 1].applied_seq) << "candidate " << r.id;
    }
  for (const CandidateRow& r : rows)
    if (r.id > 1) expect_choice_reproduces(config, by_seq, by_id, r);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace adrs

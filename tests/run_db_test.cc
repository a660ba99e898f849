// The run database: schema, transactions, read-only access, and clear errors for files that are
// not runs, damaged files, newer schemas and a full disk.
#include <signal.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "driver/run/run_db.h"
#include "driver/run/run_session.h"

namespace adrs {
namespace {

namespace fs = std::filesystem;

class RunDbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("adrs-rundb-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name = "run.db") const { return (dir_ / name).string(); }
  fs::path dir_;
};

CandidateRow row(int64_t id, const std::string& status) {
  CandidateRow r;
  r.id = id;
  r.mutation = "diff";
  EXPECT_TRUE(parse_candidate_status(status, &r.status)) << status;
  r.source = "source " + std::to_string(id);
  r.source_hash = "h" + std::to_string(id % 3);
  if (id > 1) r.parent_id = id - 1;
  return r;
}

TEST_F(RunDbTest, StoresCandidatesAndStateInOneTransactionEach) {
  std::unique_ptr<RunDb> db;
  ASSERT_TRUE(RunDb::Open(path(), RunDb::Mode::kCreate, &db).ok());
  ASSERT_TRUE(db->insert_candidate(row(1, "proposed"), {{"next_candidate_id", "2"}}).ok());
  CandidateRow r = row(2, "evaluated");
  r.score = -0.5;
  r.metrics_json = "{\"x\":1}";
  ASSERT_TRUE(db->insert_candidate(r, {{"next_candidate_id", "3"}}).ok());
  EXPECT_FALSE(db->insert_candidate(r).ok()) << "the same id twice must fail";
  EXPECT_EQ(db->state("next_candidate_id"), "3");
  r.score = -0.25;
  ASSERT_TRUE(db->update_candidate(r).ok());
  CandidateRow back;
  ASSERT_TRUE(db->get_candidate(2, &back).ok());
  EXPECT_EQ(*back.score, -0.25);
  EXPECT_EQ(*back.parent_id, 1);
  EXPECT_EQ(back.metrics_json, "{\"x\":1}");
  EXPECT_FALSE(back.second_parent_id.has_value());
  EXPECT_EQ(db->find_by_hash("h1", 5), std::optional<int64_t>(1));
  EXPECT_EQ(db->find_by_hash("h1", 1), std::nullopt);
  LlmCallRecord call{2, "model-x", 100, 20, 0.001, 1.5, "ok", "prompt", "answer"};
  ASSERT_TRUE(db->record_llm_call(call).ok());
  std::vector<LlmCallRecord> calls;
  ASSERT_TRUE(db->list_llm_calls(&calls).ok());
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].tokens_in, 100);

  // A second, read-only connection sees the rows while the writer is still open.
  std::unique_ptr<RunDb> reader;
  ASSERT_TRUE(RunDb::Open(path(), RunDb::Mode::kReadOnly, &reader).ok());
  std::vector<CandidateRow> rows;
  ASSERT_TRUE(reader->list_candidates(&rows).ok());
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_TRUE(rows[0].source.empty()) << "list without sources leaves them out";
  EXPECT_FALSE(reader->insert_candidate(row(3, "proposed")).ok());
}

TEST_F(RunDbTest, RefusesFilesThatAreNotRunsAndNewerSchemas) {
  std::unique_ptr<RunDb> db;
  { std::ofstream(path("garbage.db")) << std::string(4096, 'x'); }
  Status s = RunDb::Open(path("garbage.db"), RunDb::Mode::kReadWrite, &db);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("damaged"), std::string::npos) << s.message();

  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(path("other.db").c_str(), &raw), SQLITE_OK);
  sqlite3_exec(raw, "CREATE TABLE t (x); PRAGMA user_version = 99;", nullptr, nullptr, nullptr);
  sqlite3_close(raw);
  s = RunDb::Open(path("other.db"), RunDb::Mode::kReadWrite, &db);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("newer adrs"), std::string::npos) << s.message();

  ASSERT_EQ(sqlite3_open(path("plain.db").c_str(), &raw), SQLITE_OK);
  sqlite3_exec(raw, "CREATE TABLE t (x);", nullptr, nullptr, nullptr);
  sqlite3_close(raw);
  s = RunDb::Open(path("plain.db"), RunDb::Mode::kReadOnly, &db);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("not an adrs run"), std::string::npos) << s.message();

  s = open_run_for_reading(dir_.string(), &db);
  EXPECT_NE(s.message().find("not an adrs run"), std::string::npos) << s.message();
  s = open_run_for_reading((dir_ / "missing").string(), &db);
  EXPECT_NE(s.message().find("no run directory"), std::string::npos) << s.message();
}

// What each schema added, undone: a file as an older adrs left it (SQLite drops columns since 3.35).
const char* const kUndoSchema4 = "ALTER TABLE candidates DROP COLUMN applied_seq; ALTER TABLE candidates DROP COLUMN device;";
const char* const kUndoSchema3 =
    "DROP INDEX candidates_by_behavior; ALTER TABLE candidates DROP COLUMN behavior_hash; "
    "ALTER TABLE candidates DROP COLUMN access_density; DROP TABLE setting_results; DROP TABLE heldout_baselines;";

int user_version(const std::string& path) {
  sqlite3* raw = nullptr;
  if (sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) return -1;
  sqlite3_stmt* s = nullptr;
  int version = -1;
  if (sqlite3_prepare_v2(raw, "PRAGMA user_version", -1, &s, nullptr) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
    version = sqlite3_column_int(s, 0);
  sqlite3_finalize(s);
  sqlite3_close(raw);
  return version;
}

// Runs made by older adrs versions (schema 2: before suites; schema 3: before the asynchronous
// schedule's applied order and the scoring devices) open for inspection without a write, their
// rows read with the new fields empty, and resume's read-write open migrates them forward.
TEST_F(RunDbTest, RunsOfOlderSchemasOpenForReadingUnchangedAndMigrateOnResume) {
  for (int old_version : {2, 3}) {
    const std::string file = path("v" + std::to_string(old_version) + ".db");
    {
      std::unique_ptr<RunDb> db;
      ASSERT_TRUE(RunDb::Open(file, RunDb::Mode::kCreate, &db).ok());
      CandidateRow r = row(1, "evaluated");
      r.score = -0.5;
      ASSERT_TRUE(db->insert_candidate(r, {{"next_candidate_id", "2"}}).ok());
    }
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(file.c_str(), &raw), SQLITE_OK);
    std::string undo = kUndoSchema4;
    if (old_version < 3) undo += kUndoSchema3;
    undo += " PRAGMA user_version = " + std::to_string(old_version) + ";";
    char* error = nullptr;
    ASSERT_EQ(sqlite3_exec(raw, undo.c_str(), nullptr, nullptr, &error), SQLITE_OK) << (error ? error : "");
    sqlite3_close(raw);

    std::unique_ptr<RunDb> db;
    Status s = RunDb::Open(file, RunDb::Mode::kReadOnly, &db);
    ASSERT_TRUE(s.ok()) << "schema " << old_version << ": " << s.message();
    std::vector<CandidateRow> rows;
    s = db->list_candidates(&rows, true);
    ASSERT_TRUE(s.ok()) << s.message();
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(*rows[0].score, -0.5);
    EXPECT_FALSE(rows[0].applied_seq.has_value());
    EXPECT_EQ(rows[0].device, "");
    db.reset();
    EXPECT_EQ(user_version(file), old_version) << "inspection must not write";

    s = RunDb::Open(file, RunDb::Mode::kReadWrite, &db);
    ASSERT_TRUE(s.ok()) << s.message();
    EXPECT_EQ(user_version(file), kRunDbSchemaVersion);
    ASSERT_TRUE(db->set_applied_order({{1, 1}}).ok());
    CandidateRow back;
    ASSERT_TRUE(db->get_candidate(1, &back).ok());
    EXPECT_EQ(back.applied_seq, std::optional<int64_t>(1));
    EXPECT_EQ(*back.score, -0.5);
  }
}

// A full disk (simulated with a file-size limit) makes writes fail with a clear message; rows
// written before stay, and the database is intact afterwards.
TEST_F(RunDbTest, FullDiskGivesAClearErrorAndLosesNoRows) {
  std::unique_ptr<RunDb> db;
  ASSERT_TRUE(RunDb::Open(path(), RunDb::Mode::kCreate, &db).ok());
  ASSERT_TRUE(db->insert_candidate(row(1, "evaluated")).ok());
  struct sigaction ignore {}, old {};
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGXFSZ, &ignore, &old);
  rlimit saved{};
  getrlimit(RLIMIT_FSIZE, &saved);
  rlimit small = saved;
  small.rlim_cur = 256 * 1024;
  setrlimit(RLIMIT_FSIZE, &small);
  Status failure;
  int64_t written = 1;
  for (int64_t id = 2; id < 2000 && failure.ok(); ++id) {
    CandidateRow r = row(id, "evaluated");
    r.source = std::string(4000, 'a' + id % 26);
    failure = db->insert_candidate(r, {{"next_candidate_id", std::to_string(id + 1)}});
    if (failure.ok()) written = id;
  }
  setrlimit(RLIMIT_FSIZE, &saved);
  sigaction(SIGXFSZ, &old, nullptr);
  ASSERT_FALSE(failure.ok()) << "the size limit never hit";
  EXPECT_NE(failure.message().find("disk full"), std::string::npos) << failure.message();
  db.reset();
  ASSERT_TRUE(RunDb::Open(path(), RunDb::Mode::kReadWrite, &db).ok());
  std::vector<CandidateRow> rows;
  ASSERT_TRUE(db->list_candidates(&rows).ok());
  EXPECT_EQ(static_cast<int64_t>(rows.size()), written);
  EXPECT_EQ(db->state("next_candidate_id"), std::to_string(written + 1)) << "row and state commit together";
}

}  // namespace
}  // namespace adrs

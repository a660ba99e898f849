// Helpers of the storage-fault tests: running `adrs` with an environment (the fault shim), reading
// a run's rows, checking a database's integrity and comparing a run with an uninterrupted one.
#pragma once

#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "driver/run/run_db.h"
#include "tests/test_util.h"

namespace adrs::test {

// Runs build/adrs `args` from the source directory with `env` ("A=1 B=2") in front.
inline CommandOutput adrs_with_env(const std::string& env, const std::string& args) {
  char out_path[] = "/tmp/adrs-fault-outXXXXXX";
  char err_path[] = "/tmp/adrs-fault-errXXXXXX";
  ::close(::mkstemp(out_path));
  ::close(::mkstemp(err_path));
  const std::string command = "cd " + source_dir() + " && env ADRS_CACHE_DIR=" + binary_dir() + "/test-cache " + env + " " +
                              binary_dir() + "/adrs " + args + " >" + out_path + " 2>" + err_path + " </dev/null";
  const int status = std::system(command.c_str());
  CommandOutput result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  result.out = read_file(out_path);
  result.err = read_file(err_path);
  ::unlink(out_path);
  ::unlink(err_path);
  return result;
}

// The environment that preloads the fault shim (tests/fault_shim.cc) with these settings.
inline std::string fault_env(const std::string& path, const std::string& ops, long at, const std::string& error, bool sticky,
                             const std::string& count_file = "") {
  std::string env = std::string("LD_PRELOAD=") + ADRS_FAULT_SHIM + " ADRS_FAULT_PATH=" + path + " ADRS_FAULT_OPS=" + ops +
                    " ADRS_FAULT_AT=" + std::to_string(at) + " ADRS_FAULT_ERRNO=" + error + " ADRS_FAULT_STICKY=" + (sticky ? "1" : "0");
  if (!count_file.empty()) env += " ADRS_FAULT_COUNT_FILE=" + count_file;
  return env;
}

inline std::vector<CandidateRow> rows_of(const std::string& run_dir) {
  std::unique_ptr<RunDb> db;
  std::vector<CandidateRow> rows;
  const Status s = RunDb::Open(run_dir + "/run.db", RunDb::Mode::kReadOnly, &db);
  EXPECT_TRUE(s.ok()) << s.message();
  if (db) {
    const Status listed = db->list_candidates(&rows, false);
    EXPECT_TRUE(listed.ok()) << listed.message();
  }
  return rows;
}

// Runs `sql` on an SQLite file (created when missing) with SQLite's default settings: how another
// program would write it. Returns SQLite's error text, or "" on success.
inline std::string sqlite_exec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  std::string error;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) != SQLITE_OK) {
    error = db ? sqlite3_errmsg(db) : "out of memory";
  } else {
    char* message = nullptr;
    if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) error = message ? message : "error";
    sqlite3_free(message);
  }
  sqlite3_close_v2(db);
  return error;
}

// PRAGMA integrity_check of a database file: "ok" or the problems.
inline std::string integrity_of(const std::string& path) {
  sqlite3* db = nullptr;
  std::string result = "cannot open";
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* s = nullptr;
    result.clear();
    if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, nullptr) == SQLITE_OK) {
      while (sqlite3_step(s) == SQLITE_ROW) result += reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
    } else {
      result = sqlite3_errmsg(db);
    }
    sqlite3_finalize(s);
  }
  sqlite3_close_v2(db);
  return result;
}

// A run equals an uninterrupted one: the same rows (parents, mutations, sources, results), every
// row terminal, and no row failed where the uninterrupted run's did not (no fault stored as a
// candidate's failure). Duplicates compare by the result they stand for.
inline void expect_same_run(const std::vector<CandidateRow>& got, const std::vector<CandidateRow>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  auto result_of = [](const std::vector<CandidateRow>& rows, const CandidateRow& row) {
    return row.duplicate_of ? rows[*row.duplicate_of - 1].score : row.score;
  };
  for (size_t i = 0; i < got.size(); ++i) {
    const CandidateRow &a = got[i], &b = want[i];
    EXPECT_TRUE(a.terminal()) << what << ": candidate " << a.id << " is " << a.status;
    EXPECT_EQ(a.parent_id, b.parent_id) << what << ": candidate " << a.id;
    EXPECT_EQ(a.mutation, b.mutation) << what << ": candidate " << a.id;
    EXPECT_EQ(a.source_hash, b.source_hash) << what << ": candidate " << a.id;
    EXPECT_EQ(result_of(got, a), result_of(want, b)) << what << ": candidate " << a.id;
    if (a.status == CandidateStatus::kFailed || a.status == CandidateStatus::kFiltered) {
      EXPECT_EQ(a.failure, b.failure) << what << ": candidate " << a.id << " failed (" << a.failure << ": " << a.message
                                      << ") where the uninterrupted run's did not";
    }
  }
}

// Temporary sibling directories a creation leaves while it works (".<name>.creating-<pid>").
inline int creation_leftovers(const std::string& runs_dir) {
  int n = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(runs_dir, ec))
    if (e.path().filename().string().find(".creating-") != std::string::npos) ++n;
  return n;
}

}  // namespace adrs::test

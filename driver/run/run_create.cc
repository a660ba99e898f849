#include "driver/run/run_create.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <set>

#include "driver/run/candidate_step.h"
#include "driver/run/heldout.h"
#include "driver/run/run_loop.h"
#include "evaluator/compiler.h"

namespace adrs {

namespace {

namespace fs = std::filesystem;

const char kCreatingInfix[] = ".creating-";

// The entries adrs itself writes into a run directory. A directory holding anything else is not
// adrs's to remove, whatever --force says.
bool adrs_entry(const std::string& name) {
  static const std::set<std::string> known = {"run.db", "run.db-wal", "run.db-shm", "run.db-journal", "lock", "cache", ".reserve"};
  return known.count(name) > 0;
}

// Whether another process holds the lock file of `dir` (an active run or creation).
bool locked_by_someone(const std::string& dir) {
  const int fd = ::open((dir + "/lock").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool free = ::flock(fd, LOCK_SH | LOCK_NB) == 0;
  ::close(fd);
  return !free;
}

// Removes the temporary directory on every path out of create_run except the successful rename.
class TempDir {
 public:
  explicit TempDir(std::string path) : path_(std::move(path)) {}
  ~TempDir() {
    if (path_.empty()) return;
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  void release() { path_.clear(); }

 private:
  std::string path_;
};

Status errno_error(const std::string& what, const std::string& path, int error) {
  std::string message = what + " " + path + ": " + std::strerror(error);
  if (error == ENOSPC || error == EDQUOT) message += " (the disk is full; free space and try again)";
  if (error == EROFS) message += " (the storage is read-only; choose a writable --runs-dir)";
  return Status::Error(message);
}

// Tables in an SQLite file, read through a read-only connection; -1 when it cannot be read.
int sqlite_table_count(const std::string& path) {
  sqlite3* db = nullptr;
  int count = -1;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master", -1, &s, nullptr) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
      count = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
  }
  sqlite3_close_v2(db);
  return count;
}

}  // namespace

RunDirKind classify_run_dir(const std::string& run_dir, std::string* why) {
  std::error_code ec;
  const fs::file_status st = fs::symlink_status(run_dir, ec);
  if (ec || st.type() == fs::file_type::not_found) return RunDirKind::kMissing;
  if (st.type() != fs::file_type::directory) {
    *why = "is not a directory";
    return RunDirKind::kForeign;
  }
  for (const fs::directory_entry& e : fs::directory_iterator(run_dir, ec)) {
    const std::string name = e.path().filename().string();
    if (!adrs_entry(name)) {
      *why = "holds files adrs did not write (" + name + ")";
      return RunDirKind::kForeign;
    }
  }
  if (ec) {
    *why = "cannot be listed (" + ec.message() + ")";
    return RunDirKind::kForeign;
  }
  const std::string db_path = run_db_path(run_dir);
  if (!fs::exists(db_path, ec)) {
    *why = "it has no run.db";
    return RunDirKind::kLeftover;
  }
  if (fs::file_size(db_path, ec) == 0) {
    *why = "its run.db is empty";
    return RunDirKind::kLeftover;
  }
  std::unique_ptr<RunDb> db;
  if (Status s = RunDb::Open(db_path, RunDb::Mode::kReadOnly, &db); !s.ok()) {
    // An SQLite file without any table is what a creation killed after open leaves (the schema
    // is one transaction); anything else (tables of another program, damage, a newer schema)
    // may be somebody's data and is never removed.
    if (s.is(StatusCode::kNotAdrsRun) && sqlite_table_count(db_path) == 0) {
      *why = "its run.db holds no adrs schema";
      return RunDirKind::kLeftover;
    }
    *why = "its run.db cannot be used: " + s.message();
    return RunDirKind::kForeign;
  }
  std::string config;
  bool found = false;
  std::vector<CandidateRow> rows;
  if (!db->read_state("config", &config, &found).ok() || !db->list_candidates(&rows, false).ok()) {
    *why = "its run.db cannot be read";
    return RunDirKind::kForeign;
  }
  if (!found) {
    *why = "its run.db holds no run config";
    return RunDirKind::kLeftover;
  }
  if (rows.empty()) {
    *why = "its run.db holds no seed candidate";
    return RunDirKind::kLeftover;
  }
  return RunDirKind::kRun;
}

void remove_stale_creations(const std::string& runs_dir) {
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(runs_dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.size() < 2 || name[0] != '.' || name.find(kCreatingInfix) == std::string::npos) continue;
    if (!e.is_directory(ec) || locked_by_someone(e.path().string())) continue;
    // Without a lock file yet, it may be a creation that has only just made its directory.
    if (!fs::exists(e.path() / "lock", ec) && fs::file_time_type::clock::now() - fs::last_write_time(e.path(), ec) < std::chrono::seconds(60))
      continue;
    std::error_code ignored;
    fs::remove_all(e.path(), ignored);
  }
}

namespace {

// Refuses a target that holds a run or something not adrs's; removes a leftover with --force.
Status clear_target(const std::string& run_dir, bool force, CreateFailure* failure) {
  std::string why;
  switch (classify_run_dir(run_dir, &why)) {
    case RunDirKind::kRun:
      return Status::Error(run_dir + " already holds a run; continue it with adrs resume " + run_dir + " or choose another --name");
    case RunDirKind::kForeign:
      return Status::Error(run_dir + " exists and " + why + "; adrs leaves it alone: choose another --name");
    case RunDirKind::kLeftover: {
      if (locked_by_someone(run_dir))
        return Status::Error("another adrs process is using " + run_dir + "; wait for it or stop it first");
      if (!force)
        return Status::Error(run_dir + " is the leftover of a run whose creation did not finish (" + why +
                             "); add --force to remove it and start again, or choose another --name");
      std::error_code ec;
      fs::remove_all(run_dir, ec);
      if (ec) {
        *failure = CreateFailure::kFault;
        return Status::Error("cannot remove the leftover " + run_dir + ": " + ec.message());
      }
      return Status::Ok();
    }
    case RunDirKind::kMissing:
      break;
  }
  return Status::Ok();
}

// A killed creation of the same name leaves its compile cache: adopt it, so repeated early kills
// still get past the seed's compile (the precompiled header is built once). Then removes the
// other creations of this name and the stale ones of other names.
void adopt_earlier_creations(const RunConfig& config, const std::string& runs_dir, const std::string& prefix, const std::string& temp) {
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(runs_dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(prefix, 0) != 0 || e.path() == fs::path(temp) || locked_by_someone(e.path().string())) continue;
    if (config.cache_dir.empty() && fs::is_directory(e.path() / "cache", ec) && !fs::exists(temp + "/cache", ec))
      ::rename((e.path() / "cache").c_str(), (temp + "/cache").c_str());
    // Same name, lock free: a killed creation, or one racing for this very name (which loses).
    std::error_code ignored;
    fs::remove_all(e.path(), ignored);
  }
  remove_stale_creations(runs_dir);
}

// Writes run.db in the temporary directory (config, version, seed row) and scores the seed.
Status store_and_score_seed(const RunConfig& config, const std::string& seed_source, const std::string& temp,
                            const std::string& run_dir, const std::atomic<bool>& interrupt, CreateFailure* failure) {
  // The evaluators check the workload, device and limits; the seed is scored in the run's cache.
  RunEvaluators evaluators;
  if (Status s = make_run_evaluators(config, config.cache_dir.empty() ? temp + "/cache" : config.cache_dir, &evaluators); !s.ok()) {
    *failure = s.is(StatusCode::kFault) ? CreateFailure::kFault : CreateFailure::kUsage;
    return s;
  }
  std::unique_ptr<RunDb> db;
  if (Status s = RunDb::Open(run_db_path(temp), RunDb::Mode::kCreate, &db); !s.ok()) return s;
  Status s = db->set_states({{"config", config_to_json(config).dump()},
                             {"adrs_version", kAdrsVersion},
                             {"created_at", utc_now()},
                             {"seed_masker", seed_masker_path(config)},
                             {"elapsed_s", "0"}});
  if (s.ok()) s = insert_seed_candidate(*db, seed_source);
  std::map<std::string, uint64_t> twin_seeds;  // drawn now, so the search never depends on them
  if (s.ok()) s = heldout_seeds(*db, config, &twin_seeds);
  if (!s.ok()) return s;
  StepContext context;
  context.config = &config;
  context.db = db.get();
  context.evaluators = &evaluators;
  context.cancel = &interrupt;
  CandidateRow seed;
  Status fault;
  switch (process_candidate(context, 1, &seed, &fault)) {
    case StepOutcome::kFault:
      return Status::Error("scoring the seed masker: " + fault.message());
    case StepOutcome::kAbandoned:
      *failure = CreateFailure::kInterrupted;
      return Status::Error("interrupted while scoring the seed masker; nothing was kept (" + run_dir + " does not exist)");
    case StepOutcome::kDone:
      break;
  }
  if (seed.status != CandidateStatus::kEvaluated) {  // exit 1: the run could not start, as with any seed failure
    const std::string shown = std::filesystem::path(seed_masker_path(config)).filename().string();
    return Status::Error("the seed masker failed (" + seed.failure + "): " + name_masker_file(seed.message.substr(0, 2000), shown) +
                         "\nno run was created; fix " + seed_masker_path(config) + " and run again");
  }
  return Status::Ok();  // closing the database checkpoints the WAL into run.db: the directory is complete
}

// RENAME_NOREPLACE: a run that appeared at the target meanwhile is never overwritten (a plain
// rename would replace an empty directory). The rename is durable once the parent is synced.
Status move_into_place(const std::string& temp, const std::string& runs_dir, const std::string& run_dir, CreateFailure* failure) {
  if (::renameat2(AT_FDCWD, temp.c_str(), AT_FDCWD, run_dir.c_str(), RENAME_NOREPLACE) != 0) {
    const int error = errno;
    if (error == EEXIST || error == ENOTEMPTY) {
      *failure = CreateFailure::kUsage;
      return Status::Error(run_dir + " appeared while this run was being created; choose another --name");
    }
    return errno_error("cannot move the new run into place at", run_dir, error);
  }
  if (const int dir_fd = ::open(runs_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
  return Status::Ok();
}

}  // namespace

Status create_run(const RunConfig& config, const std::string& seed_source, const std::string& runs_dir, bool force,
                  const std::atomic<bool>& interrupt, CreatedRun* out, CreateFailure* failure) {
  *failure = CreateFailure::kUsage;
  const std::string run_dir = runs_dir + "/" + config.name;
  if (Status s = clear_target(run_dir, force, failure); !s.ok()) return s;
  *failure = CreateFailure::kFault;
  if (Status s = make_directories(runs_dir); !s.ok()) return s;
  const std::string prefix = "." + config.name + kCreatingInfix;
  const std::string temp = runs_dir + "/" + prefix + std::to_string(::getpid());
  {
    std::error_code ec;
    fs::remove_all(temp, ec);  // a previous process with our pid, long gone
  }
  if (::mkdir(temp.c_str(), 0755) != 0) return errno_error("cannot create", temp, errno);
  TempDir cleanup(temp);
  std::unique_ptr<RunLock> lock;
  if (Status s = RunLock::Acquire(temp, &lock); !s.ok()) return s;
  adopt_earlier_creations(config, runs_dir, prefix, temp);
  if (Status s = store_and_score_seed(config, seed_source, temp, run_dir, interrupt, failure); !s.ok()) return s;
  if (Status s = move_into_place(temp, runs_dir, run_dir, failure); !s.ok()) return s;
  cleanup.release();
  if (Status st = RunDb::Open(run_db_path(run_dir), RunDb::Mode::kReadWrite, &out->db); !st.ok()) return st;
  out->run_dir = run_dir;
  out->lock = std::move(lock);
  *failure = CreateFailure::kNone;
  return Status::Ok();
}

}  // namespace adrs

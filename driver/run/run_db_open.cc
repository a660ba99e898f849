// RunDb::Open and the storage checks: a read-only look before any write, the immutable fallback
// on read-only storage, the file identity taken at open and checked before writes, quick_check.
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "driver/run/run_db.h"
#include "driver/run/run_db_statement.h"

namespace adrs {

namespace {

const char* const kSchema1ReadCompat = R"sql(
CREATE TEMP VIEW candidates AS SELECT *, '' AS behavior_hash, NULL AS access_density FROM main.candidates;
CREATE TEMP TABLE setting_results (
  candidate_id INTEGER NOT NULL, kind TEXT NOT NULL, setting TEXT NOT NULL, workload TEXT NOT NULL,
  target_density REAL NOT NULL, weight REAL NOT NULL, track TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'ok',
  score REAL NOT NULL, error REAL NOT NULL, density REAL NOT NULL, score_std REAL NOT NULL DEFAULT 0,
  access_density REAL, ci_low REAL, ci_high REAL, metrics_json TEXT NOT NULL DEFAULT '');
CREATE TEMP TABLE heldout_baselines (
  setting TEXT NOT NULL, baseline TEXT NOT NULL, track TEXT NOT NULL, status TEXT NOT NULL,
  message TEXT NOT NULL DEFAULT '', score REAL, error REAL, density REAL, ci_low REAL, ci_high REAL);
)sql";

}  // namespace

namespace {

// SQLite URI for an immutable open: '%', '?' and '#' in the path must be escaped.
std::string immutable_uri(const std::string& path) {
  std::string uri = "file:";
  for (char c : path) {
    if (c == '%' || c == '?' || c == '#') {
      uri += fmt::format("%{:02X}", static_cast<unsigned char>(c));
    } else {
      uri += c;
    }
  }
  return uri + "?immutable=1";
}

// Storage nobody can write (a read-only mount, or a directory this user cannot write): a WAL
// database there can only be read as immutable, since its -shm index cannot be created.
bool storage_read_only(const std::string& path) {
  const std::string dir = std::filesystem::path(path).parent_path().string();
  struct statvfs fs {};
  if (::statvfs(dir.empty() ? "." : dir.c_str(), &fs) == 0 && (fs.f_flag & ST_RDONLY)) return true;
  return ::access(dir.empty() ? "." : dir.c_str(), W_OK) != 0;
}

}  // namespace

Status RunDb::OpenConnection(const std::string& path, bool read_only, bool immutable, sqlite3** db) {
  const int flags = (read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) | SQLITE_OPEN_FULLMUTEX |
                    (immutable ? SQLITE_OPEN_URI : 0);
  const int rc = sqlite3_open_v2(immutable ? immutable_uri(path).c_str() : path.c_str(), db, flags, nullptr);
  if (rc == SQLITE_OK) return Status::Ok();
  const std::string message = *db ? sqlite3_errmsg(*db) : "out of memory";
  sqlite3_close_v2(*db);
  *db = nullptr;
  return Status::Error("cannot open " + path + ": " + message + " (SQLite error " + std::to_string(rc) + ")");
}

Status RunDb::read_schema_version(int* version, bool* immutable) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    Statement s(db_, "PRAGMA user_version");
    if (s.ok() && s.step() == SQLITE_ROW) {
      *version = static_cast<int>(s.integer(0));
      return Status::Ok();
    }
    const int code = sqlite3_extended_errcode(db_) & 0xff;
    if (attempt == 0 && (code == SQLITE_CANTOPEN || code == SQLITE_READONLY) && storage_read_only(path_)) {
      sqlite3_close_v2(db_);
      db_ = nullptr;
      *immutable = true;
      if (Status st = OpenConnection(path_, true, true, &db_); !st.ok()) return st;
      continue;
    }
    return error("cannot read");
  }
  return error("cannot read");
}

Status RunDb::open_existing(Mode mode) {
  // A read-only connection first: a foreign or damaged file is refused before anything (not even
  // the switch to WAL) is written to it.
  bool immutable = false;
  if (Status st = OpenConnection(path_, true, false, &db_); !st.ok()) return st;
  sqlite3_busy_timeout(db_, 10000);
  int version = -1;
  if (Status st = read_schema_version(&version, &immutable); !st.ok()) return st;
  if (version > kRunDbSchemaVersion)
    return Status::Error(path_ + " was written by a newer adrs (run database schema " + std::to_string(version) +
                         ", this adrs knows up to " + std::to_string(kRunDbSchemaVersion) + "); use that adrs version");
  bool has_state_table = false;
  {
    Statement s(db_, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'run_state'");
    if (!s.ok() || s.step() != SQLITE_ROW) return error("cannot read");
    has_state_table = s.integer(0) > 0;
  }
  if (version == 0 || !has_state_table)
    return Status::WithCode(StatusCode::kNotAdrsRun, path_ + " is not an adrs run database (an SQLite file without the adrs schema); it was left unchanged");
  // A run made before schema 3 reads as one whose candidates have no per-setting results: the
  // new columns and tables appear as temporary (in-memory) stand-ins, so inspection writes nothing.
  if (mode == Mode::kReadOnly && (version == 1 || version == 2))
    if (Status st = exec(kSchema1ReadCompat); !st.ok()) return st;
  if (mode == Mode::kReadOnly && version < 1)
    return Status::WithCode(StatusCode::kOldSchema, path_ + " uses run database schema " + std::to_string(version) + "; run adrs resume once to upgrade it");
  if (mode != Mode::kReadWrite) return Status::Ok();
  if (immutable) return Status::Error("cannot write " + path_ + ": the storage is read-only (inspection works; resume needs a writable copy)");
  sqlite3_close_v2(db_);
  db_ = nullptr;
  if (Status st = OpenConnection(path_, false, false, &db_); !st.ok()) return st;
  sqlite3_busy_timeout(db_, 10000);
  return Status::Ok();
}

Status RunDb::Open(const std::string& path, Mode mode, std::unique_ptr<RunDb>* out) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const bool exists = fs::exists(path, ec);
  if (mode == Mode::kCreate && exists) return Status::Error(path + " already exists; resume that run or choose another --name");
  if (mode != Mode::kCreate && !exists) return Status::Error("no run database " + path);
  std::unique_ptr<RunDb> db(new RunDb());
  db->path_ = path;
  db->read_only_ = mode == Mode::kReadOnly;
  if (mode == Mode::kCreate) {
    if (Status st = OpenConnection(path, false, false, &db->db_); !st.ok()) return st;
    sqlite3_busy_timeout(db->db_, 10000);
  } else if (Status st = db->open_existing(mode); !st.ok()) {
    return st;
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return Status::Error("cannot open " + path + ": " + std::strerror(errno));
  db->device_ = st.st_dev;
  db->inode_ = st.st_ino;
  if (mode != Mode::kReadOnly) {
    if (Status st2 = db->exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON"); !st2.ok()) return st2;
    if (Status st2 = db->migrate(); !st2.ok()) return st2;
  }
  *out = std::move(db);
  return Status::Ok();
}

Status RunDb::check_identity() const {
  struct stat st {};
  if (::stat(path_.c_str(), &st) != 0)
    return Status::Error("the run database " + path_ + " was deleted while adrs used it (" + std::strerror(errno) +
                         "); the run stops so nothing more is written to a deleted file. Restore the run directory "
                         "from a copy, or start a new run");
  if (static_cast<uint64_t>(st.st_dev) != device_ || static_cast<uint64_t>(st.st_ino) != inode_)
    return Status::Error("the run database " + path_ + " was replaced by another file while adrs used it; the run stops. "
                         "Put the original back, or resume the replacement if it is meant to be the run");
  return Status::Ok();
}

Status RunDb::quick_check() const {
  std::lock_guard lock(mutex_);
  Statement s(db_, "PRAGMA quick_check");
  if (!s.ok()) return error("cannot read");
  int rc;
  std::string problems;
  while ((rc = s.step()) == SQLITE_ROW)
    if (s.text(0) != "ok" && problems.size() < 400) problems += (problems.empty() ? "" : "; ") + s.text(0);
  if (rc != SQLITE_DONE) return error("cannot read");
  if (!problems.empty())
    return Status::Error(path_ + " is damaged (integrity check: " + problems +
                         "); restore it from a copy, or start a new run (inspection may still read parts of it)");
  return Status::Ok();
}

Status RunDb::begin_write() const {
  if (read_only_) return Status::Error("the run database " + path_ + " is open read-only");
  if (Status s = check_identity(); !s.ok()) return s;
  return exec("BEGIN IMMEDIATE");
}

}  // namespace adrs

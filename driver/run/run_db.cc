#include "driver/run/run_db.h"

#include <sqlite3.h>

#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>

#include "driver/run/run_db_statement.h"

namespace adrs {

namespace {

// Schema history: entry i migrates user_version i to i + 1. Append; never edit a shipped entry.
const char* const kMigrations[] = {
    R"sql(
CREATE TABLE run_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE candidates (
  id INTEGER PRIMARY KEY,
  parent_id INTEGER, second_parent_id INTEGER, duplicate_of INTEGER,
  island INTEGER NOT NULL, generation INTEGER NOT NULL,
  mutation TEXT NOT NULL, status TEXT NOT NULL, failure TEXT NOT NULL DEFAULT '',
  message TEXT NOT NULL DEFAULT '', source TEXT NOT NULL DEFAULT '', source_hash TEXT NOT NULL DEFAULT '',
  proposer_seed INTEGER NOT NULL DEFAULT 0, stage1_threshold REAL,
  score REAL, error REAL, density REAL, score_std REAL, error_std REAL, stage1_score REAL,
  metrics_json TEXT NOT NULL DEFAULT '', compile_log TEXT NOT NULL DEFAULT '',
  proposal_s REAL NOT NULL DEFAULT 0, compile_s REAL NOT NULL DEFAULT 0, worker_s REAL NOT NULL DEFAULT 0,
  metrics_s REAL NOT NULL DEFAULT 0, db_s REAL NOT NULL DEFAULT 0, check_s REAL NOT NULL DEFAULT 0,
  request_json TEXT NOT NULL DEFAULT '',
  cost_usd REAL NOT NULL DEFAULT 0, tokens_in INTEGER NOT NULL DEFAULT 0, tokens_out INTEGER NOT NULL DEFAULT 0,
  attempts INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL DEFAULT '', finished_at TEXT NOT NULL DEFAULT ''
);
CREATE INDEX candidates_by_hash ON candidates (source_hash);
CREATE TABLE llm_calls (
  id INTEGER PRIMARY KEY, candidate_id INTEGER, model TEXT NOT NULL, tokens_in INTEGER NOT NULL,
  tokens_out INTEGER NOT NULL, cost_usd REAL NOT NULL, latency_s REAL NOT NULL, status TEXT NOT NULL,
  prompt TEXT NOT NULL, response TEXT NOT NULL, created_at TEXT NOT NULL
);
CREATE TABLE events (id INTEGER PRIMARY KEY, at TEXT NOT NULL, kind TEXT NOT NULL, detail TEXT NOT NULL);
)sql",
    // 1 -> 2: the agent proposer's transcripts (one row per model turn, one per proposal's end).
    R"sql(
CREATE TABLE agent_turns (
  id INTEGER PRIMARY KEY, candidate_id INTEGER NOT NULL, proposal INTEGER NOT NULL, turn INTEGER NOT NULL,
  kind TEXT NOT NULL, request TEXT NOT NULL, response TEXT NOT NULL, tool_results TEXT NOT NULL,
  draft_evals INTEGER NOT NULL, tokens_in INTEGER NOT NULL, tokens_out INTEGER NOT NULL, cost_usd REAL NOT NULL,
  outcome TEXT NOT NULL, created_at TEXT NOT NULL
);
CREATE INDEX agent_turns_by_candidate ON agent_turns (candidate_id, proposal, turn);
)sql",
    // 2 -> 3: suites (per-setting results), held-out reports, behavioral fingerprints, the blind track.
    R"sql(
ALTER TABLE candidates ADD COLUMN behavior_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE candidates ADD COLUMN access_density REAL;
CREATE INDEX candidates_by_behavior ON candidates (behavior_hash);
CREATE TABLE setting_results (
  candidate_id INTEGER NOT NULL, kind TEXT NOT NULL, setting TEXT NOT NULL, workload TEXT NOT NULL,
  target_density REAL NOT NULL, weight REAL NOT NULL, track TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'ok',
  score REAL NOT NULL, error REAL NOT NULL, density REAL NOT NULL, score_std REAL NOT NULL DEFAULT 0,
  access_density REAL, ci_low REAL, ci_high REAL, metrics_json TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (candidate_id, kind, setting)
);
CREATE TABLE heldout_baselines (
  setting TEXT NOT NULL, baseline TEXT NOT NULL, track TEXT NOT NULL, status TEXT NOT NULL,
  message TEXT NOT NULL DEFAULT '', score REAL, error REAL, density REAL, ci_low REAL, ci_high REAL,
  PRIMARY KEY (setting, baseline)
);
)sql",
    // 3 -> 4: the order results were applied in (asynchronous schedule) and the devices that scored.
    R"sql(
ALTER TABLE candidates ADD COLUMN applied_seq INTEGER;
ALTER TABLE candidates ADD COLUMN device TEXT NOT NULL DEFAULT '';
)sql",
};
constexpr int kNumMigrations = sizeof kMigrations / sizeof kMigrations[0];
static_assert(kNumMigrations == kRunDbSchemaVersion);

const char* const kColumns =
    "id, parent_id, second_parent_id, duplicate_of, island, generation, mutation, status, failure, message, "
    "source, source_hash, proposer_seed, stage1_threshold, score, error, density, score_std, error_std, "
    "stage1_score, metrics_json, compile_log, proposal_s, compile_s, worker_s, metrics_s, db_s, check_s, request_json, cost_usd, "
    "tokens_in, tokens_out, attempts, created_at, finished_at, behavior_hash, access_density, applied_seq, device";
constexpr int kNumColumns = 39;

void bind_row(Statement& s, const CandidateRow& r) {
  int i = 1;
  s.bind(i++, r.id);
  s.bind(i++, r.parent_id);
  s.bind(i++, r.second_parent_id);
  s.bind(i++, r.duplicate_of);
  s.bind(i++, int64_t{r.island});
  s.bind(i++, int64_t{r.generation});
  s.bind(i++, r.mutation);
  s.bind(i++, std::string(candidate_status_name(r.status)));
  for (const std::string* t : {&r.failure, &r.message, &r.source, &r.source_hash}) s.bind(i++, *t);
  s.bind(i++, static_cast<int64_t>(r.proposer_seed));
  for (const auto* v : {&r.stage1_threshold, &r.score, &r.error, &r.density, &r.score_std, &r.error_std, &r.stage1_score})
    s.bind(i++, *v);
  s.bind(i++, r.metrics_json);
  s.bind(i++, r.compile_log);
  for (double v : {r.proposal_s, r.compile_s, r.worker_s, r.metrics_s, r.db_s, r.check_s}) s.bind(i++, v);
  s.bind(i++, r.request_json);
  s.bind(i++, r.cost_usd);
  s.bind(i++, r.tokens_in);
  s.bind(i++, r.tokens_out);
  s.bind(i++, int64_t{r.attempts});
  s.bind(i++, r.created_at);
  s.bind(i++, r.finished_at);
  s.bind(i++, r.behavior_hash);
  s.bind(i++, r.access_density);
  s.bind(i++, r.applied_seq);
  s.bind(i++, r.device);
}

CandidateRow read_row(Statement& s) {
  CandidateRow r;
  int i = 0;
  r.id = s.integer(i++);
  r.parent_id = s.opt_integer(i++);
  r.second_parent_id = s.opt_integer(i++);
  r.duplicate_of = s.opt_integer(i++);
  r.island = static_cast<int>(s.integer(i++));
  r.generation = static_cast<int>(s.integer(i++));
  r.mutation = s.text(i++);
  const std::string status = s.text(i++);
  for (std::string* t : {&r.failure, &r.message, &r.source, &r.source_hash}) *t = s.text(i++);
  if (!parse_candidate_status(status, &r.status)) {
    // No adrs wrote this (a hand-edited or foreign file): shown as a failure, never redone.
    r.status = CandidateStatus::kFailed;
    r.failure = "unknown_status:" + status;
  }
  r.proposer_seed = static_cast<uint64_t>(s.integer(i++));
  for (auto* v : {&r.stage1_threshold, &r.score, &r.error, &r.density, &r.score_std, &r.error_std, &r.stage1_score})
    *v = s.opt_real(i++);
  r.metrics_json = s.text(i++);
  r.compile_log = s.text(i++);
  for (double* v : {&r.proposal_s, &r.compile_s, &r.worker_s, &r.metrics_s, &r.db_s, &r.check_s}) *v = s.real(i++);
  r.request_json = s.text(i++);
  r.cost_usd = s.real(i++);
  r.tokens_in = s.integer(i++);
  r.tokens_out = s.integer(i++);
  r.attempts = static_cast<int>(s.integer(i++));
  r.created_at = s.text(i++);
  r.finished_at = s.text(i++);
  r.behavior_hash = s.text(i++);
  r.access_density = s.opt_real(i++);
  r.applied_seq = s.opt_integer(i++);
  r.device = s.text(i++);
  return r;
}

}  // namespace

std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

Status RunDb::error(const char* what) const {
  const int code = sqlite3_extended_errcode(db_);
  std::string message = std::string(what) + " " + path_ + ": " + sqlite3_errmsg(db_) + " (SQLite error " + std::to_string(code) + ")";
  if ((code & 0xff) == SQLITE_FULL || (code & 0xff) == SQLITE_IOERR)
    message += " (is the disk full? free space, then continue with adrs resume)";
  else if ((code & 0xff) == SQLITE_CORRUPT || (code & 0xff) == SQLITE_NOTADB)
    message += " (the run database is damaged; restore it from a copy or start a new run)";
  else if ((code & 0xff) == SQLITE_BUSY || (code & 0xff) == SQLITE_LOCKED)
    message += " (another adrs process holds the database; wait for it or stop it)";
  return Status::Error(message);
}

Status RunDb::exec(const std::string& sql) const {
  char* message = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message) == SQLITE_OK) return Status::Ok();
  sqlite3_free(message);
  return error("cannot write");
}

RunDb::~RunDb() { sqlite3_close_v2(db_); }

Status RunDb::migrate() {
  for (;;) {
    Statement s(db_, "PRAGMA user_version");
    if (!s.ok() || s.step() != SQLITE_ROW) return error("cannot read");
    const int version = static_cast<int>(s.integer(0));
    if (version >= kRunDbSchemaVersion) return Status::Ok();
    if (Status st = check_identity(); !st.ok()) return st;
    const std::string sql = std::string("BEGIN IMMEDIATE;") + kMigrations[version] + "PRAGMA user_version=" +
                            std::to_string(version + 1) + "; COMMIT;";
    if (Status st = exec(sql); !st.ok()) {
      rollback();
      return st;
    }
  }
}

Status RunDb::set_state(const std::string& key, const std::string& value) { return set_states({{key, value}}); }

Status RunDb::set_states(const std::vector<std::pair<std::string, std::string>>& values) {
  std::lock_guard lock(mutex_);
  if (Status st = begin_write(); !st.ok()) return st;
  for (const auto& [key, value] : values) {
    Statement s(db_, "INSERT INTO run_state (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = ?2");
    s.bind(1, key);
    s.bind(2, value);
    if (!s.ok() || s.step() != SQLITE_DONE) {
      Status st = error("cannot write");
      rollback();
      return st;
    }
  }
  if (Status st = exec("COMMIT"); !st.ok()) {
    rollback();
    return st;
  }
  return Status::Ok();
}

std::string RunDb::state(const std::string& key, const std::string& fallback) const {
  std::string value;
  bool found = false;
  return read_state(key, &value, &found).ok() && found ? value : fallback;
}

Status RunDb::read_state(const std::string& key, std::string* value, bool* found) const {
  std::lock_guard lock(mutex_);
  Statement s(db_, "SELECT value FROM run_state WHERE key = ?1");
  if (!s.ok()) return error("cannot read");
  s.bind(1, key);
  const int rc = s.step();
  *found = rc == SQLITE_ROW;
  if (rc == SQLITE_ROW) *value = s.text(0);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return error("cannot read");
  return Status::Ok();
}

Status RunDb::write_row(const CandidateRow& row, bool insert) {
  std::string sql;
  if (insert) {
    sql = std::string("INSERT INTO candidates (") + kColumns + ") VALUES (";
    for (int i = 1; i <= kNumColumns; ++i) sql += (i > 1 ? ", ?" : "?") + std::to_string(i);
    sql += ")";
  } else {
    sql = std::string("REPLACE INTO candidates (") + kColumns + ") VALUES (";
    for (int i = 1; i <= kNumColumns; ++i) sql += (i > 1 ? ", ?" : "?") + std::to_string(i);
    sql += ")";
  }
  Statement s(db_, sql);
  if (!s.ok()) return error("cannot write");
  bind_row(s, row);
  if (s.step() != SQLITE_DONE) return error("cannot write");
  return Status::Ok();
}

Status RunDb::insert_candidate(const CandidateRow& row, const std::vector<std::pair<std::string, std::string>>& state) {
  std::lock_guard lock(mutex_);
  if (Status st = begin_write(); !st.ok()) return st;
  Status st = write_row(row, true);
  for (const auto& [key, value] : state) {
    if (!st.ok()) break;
    Statement s(db_, "INSERT INTO run_state (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = ?2");
    s.bind(1, key);
    s.bind(2, value);
    if (!s.ok() || s.step() != SQLITE_DONE) st = error("cannot write");
  }
  if (st.ok()) st = exec("COMMIT");
  if (!st.ok()) rollback();
  return st;
}

Status RunDb::update_candidate(const CandidateRow& row) {
  std::lock_guard lock(mutex_);
  if (Status st = begin_write(); !st.ok()) return st;
  Status st = write_row(row, false);
  if (st.ok()) st = write_settings(row);
  if (st.ok()) st = exec("COMMIT");
  if (!st.ok()) rollback();
  return st;
}

Status RunDb::get_candidate(int64_t id, CandidateRow* row) const {
  std::lock_guard lock(mutex_);
  Statement s(db_, std::string("SELECT ") + kColumns + " FROM candidates WHERE id = ?1");
  if (!s.ok()) return error("cannot read");
  s.bind(1, id);
  const int rc = s.step();
  if (rc == SQLITE_ROW) {
    *row = read_row(s);
    return read_settings(id, "selection", &row->settings);
  }
  if (rc == SQLITE_DONE) return Status::NotFound("no candidate " + std::to_string(id) + " in this run (see adrs best RUN)");
  return error("cannot read");
}

Status RunDb::list_candidates(std::vector<CandidateRow>* rows, bool with_source) const {
  std::lock_guard lock(mutex_);
  std::string columns = kColumns;
  if (!with_source) {
    // Keep the column positions; blank the large text columns.
    for (const char* big : {"source,", "metrics_json,", "compile_log,", "request_json,"}) {
      const size_t at = columns.find(std::string(" ") + big);
      columns.replace(at + 1, std::string(big).size() - 1, "''");
    }
  }
  Statement s(db_, "SELECT " + columns + " FROM candidates ORDER BY id");
  if (!s.ok()) return error("cannot read");
  rows->clear();
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) rows->push_back(read_row(s));
  if (rc != SQLITE_DONE) return error("cannot read");
  return Status::Ok();
}

Status RunDb::record_llm_call(const LlmCallRecord& c) {
  std::lock_guard lock(mutex_);
  if (read_only_) return Status::Error("the run database " + path_ + " is open read-only");
  if (Status st = check_identity(); !st.ok()) return st;
  Statement s(db_, "INSERT INTO llm_calls (candidate_id, model, tokens_in, tokens_out, cost_usd, latency_s, status, "
                   "prompt, response, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
  if (!s.ok()) return error("cannot write");
  s.bind(1, c.candidate_id);
  s.bind(2, c.model);
  s.bind(3, c.tokens_in);
  s.bind(4, c.tokens_out);
  s.bind(5, c.cost_usd);
  s.bind(6, c.latency_s);
  s.bind(7, c.status);
  s.bind(8, c.prompt);
  s.bind(9, c.response);
  s.bind(10, utc_now());
  if (s.step() != SQLITE_DONE) return error("cannot write");
  return Status::Ok();
}

Status RunDb::list_llm_calls(std::vector<LlmCallRecord>* calls) const {
  std::lock_guard lock(mutex_);
  Statement s(db_, "SELECT candidate_id, model, tokens_in, tokens_out, cost_usd, latency_s, status, prompt, response "
                   "FROM llm_calls ORDER BY id");
  if (!s.ok()) return error("cannot read");
  calls->clear();
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) {
    LlmCallRecord c;
    c.candidate_id = s.integer(0);
    c.model = s.text(1);
    c.tokens_in = s.integer(2);
    c.tokens_out = s.integer(3);
    c.cost_usd = s.real(4);
    c.latency_s = s.real(5);
    c.status = s.text(6);
    c.prompt = s.text(7);
    c.response = s.text(8);
    calls->push_back(std::move(c));
  }
  if (rc != SQLITE_DONE) return error("cannot read");
  return Status::Ok();
}

Status RunDb::add_event(const std::string& kind, const std::string& detail) {
  std::lock_guard lock(mutex_);
  if (read_only_) return Status::Error("the run database " + path_ + " is open read-only");
  if (Status st = check_identity(); !st.ok()) return st;
  Statement s(db_, "INSERT INTO events (at, kind, detail) VALUES (?1, ?2, ?3)");
  if (!s.ok()) return error("cannot write");
  s.bind(1, utc_now());
  s.bind(2, kind);
  s.bind(3, detail);
  if (s.step() != SQLITE_DONE) return error("cannot write");
  return Status::Ok();
}

Status RunDb::list_events(nlohmann::json* events) const {
  std::lock_guard lock(mutex_);
  Statement s(db_, "SELECT at, kind, detail FROM events ORDER BY id");
  if (!s.ok()) return error("cannot read");
  *events = nlohmann::json::array();
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) events->push_back({{"at", s.text(0)}, {"kind", s.text(1)}, {"detail", s.text(2)}});
  if (rc != SQLITE_DONE) return error("cannot read");
  return Status::Ok();
}

}  // namespace adrs

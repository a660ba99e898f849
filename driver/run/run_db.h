// RunDb: one run's SQLite database (runs/<name>/run.db). WAL mode, so `adrs status/best/show`
// read while `adrs run` writes; schema versioned with PRAGMA user_version and migrated forward on
// open for writing. Every state change is one transaction, so kill -9 at any instant loses at
// most the work in flight, which resume redoes.
//
// Candidate life cycle (status column): driver/run/candidate_state.h. The status is typed
// (CandidateStatus) everywhere but in the column, which holds its name.
// All methods are thread-safe (one connection behind a mutex). Errors come back as Status with a
// message naming the file, SQLite's own error text and the fix (disk full, corrupt file, newer
// schema); a storage error is never turned into "not found".
//
// Storage guarantees:
// - Opening an existing file reads it first through a read-only connection; nothing is written to
//   a file (not even the switch to WAL) before it is known to hold an adrs schema.
// - kReadOnly never writes and works on read-only storage (an immutable open when the directory
//   cannot be written, so a WAL file's shared-memory index cannot be created).
// - The file's identity (device + inode) is taken at open and checked before every write
//   transaction: a run whose database was deleted or replaced stops with an error instead of
//   writing into an unlinked file.
// - synchronous=NORMAL in WAL mode: a committed transaction survives a process crash (kill -9);
//   a power loss can lose the last transactions committed since the previous checkpoint, never
//   the file's consistency (docs/DRIVER.md, "Durability").
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "driver/run/candidate_state.h"
#include "util/status.h"

struct sqlite3;

namespace adrs {

inline constexpr int kRunDbSchemaVersion = 3;

// One setting's result for one candidate (table setting_results): kind "selection" (a setting of
// the suite; the candidate's score is their weighted mean) or "heldout" (reported, never selected
// on; with a 95% bootstrap interval over layer calls).
struct SettingResult {
  std::string kind = "selection";
  std::string setting;  // Setting::key(), e.g. "default@0.1"
  std::string workload;
  double target_density = 0, weight = 1;
  std::string track = "oracle";
  std::string status = "ok";  // held-out: the evaluator's status name when the candidate failed there
  double score = 0, error = 0, density = 0, score_std = 0;  // valid when status is "ok"
  std::optional<double> access_density, ci_low, ci_high;
  std::string metrics_json;  // the first seed's metrics plus per-seed scores
};

// The best baseline's result on a held-out setting (table heldout_baselines).
struct BaselineSettingResult {
  std::string setting, baseline, track, status, message;
  std::optional<double> score, error, density, ci_low, ci_high;
};

struct CandidateRow {
  int64_t id = 0;
  std::optional<int64_t> parent_id, second_parent_id, duplicate_of;
  int island = 0;
  int generation = 0;
  std::string mutation;  // mutation_kind_name()
  CandidateStatus status = CandidateStatus::kSelected;
  std::string failure;   // failed: patch:<code>, compile_error, crashed, timeout, ... ; filtered: stage1
  std::string message;   // failure message or what the proposal changed
  std::string source, source_hash;
  uint64_t proposer_seed = 0;
  std::optional<double> stage1_threshold;  // cascade: stage-1 score needed to go on
  // Metrics (mean over evaluation seeds; *_std their standard deviation). Valid when evaluated.
  std::optional<double> score, error, density, score_std, error_std, stage1_score;
  std::optional<double> access_density;  // blind track: key reads charged / n (weighted like density)
  std::string metrics_json;  // full metrics of the first seed plus per-seed scores
  // Behavioral fingerprint: the selections on the probe rows of the first setting evaluated.
  std::string behavior_hash;
  // Per-setting results of the suite; get_candidate fills them, update_candidate replaces them.
  std::vector<SettingResult> settings;
  std::string compile_log;
  // What the proposer was given (inspiration ids, recent attempts, fix-up target), so a proposal
  // redone after a kill sees exactly the same request.
  std::string request_json;
  // Seconds per stage: proposer, checks (outside-block check, normalization, dedup), compile,
  // worker (start + select), metrics, database writes.
  double proposal_s = 0, check_s = 0, compile_s = 0, worker_s = 0, metrics_s = 0, db_s = 0;
  double cost_usd = 0;
  int64_t tokens_in = 0, tokens_out = 0;
  int attempts = 0;  // evaluation attempts started (a kill during one makes resume start another)
  std::string created_at, finished_at;
  bool terminal() const { return is_terminal(status); }
};

// One proposer call to an LLM. Never holds an API key.
struct LlmCallRecord {
  int64_t candidate_id = 0;
  std::string model;
  int64_t tokens_in = 0, tokens_out = 0;
  double cost_usd = 0.0;
  double latency_s = 0.0;
  std::string status;  // "ok", "http_429", "timeout", ...
  std::string prompt, response;
};

// One turn of the agent proposer's conversation (driver/llm/agent_proposer.h), stored with the
// candidate it proposes. Drafts live only here: they are never candidates. Never holds an API key.
struct AgentTurnRecord {
  int64_t candidate_id = 0;
  int proposal = 1;          // the n-th try at proposing this candidate (resume redoes an interrupted one)
  int turn = 0;              // 1-based model call within the proposal
  std::string kind;          // "turn" (one model call and its tool calls) or "end" (how the proposal ended)
  std::string request;       // JSON: the messages this turn added to the conversation
  std::string response;      // JSON: the model's answer (text, tool calls)
  std::string tool_results;  // JSON array: {id, name, arguments, result, is_error} per tool call
  int draft_evals = 0;       // evaluate() calls that ran a draft this turn
  int64_t tokens_in = 0, tokens_out = 0;
  double cost_usd = 0.0;
  std::string outcome;       // kind "end": "submitted", "limit:max_turns (best draft)", "failed: ..."
  std::string created_at;
};

class RunDb {
 public:
  enum class Mode { kCreate, kReadWrite, kReadOnly };
  // kCreate makes a new database (fails if one exists); kReadWrite opens and migrates an existing
  // one; kReadOnly opens an existing one without writing (for inspection while a run runs).
  static Status Open(const std::string& path, Mode mode, std::unique_ptr<RunDb>* out);
  ~RunDb();
  RunDb(const RunDb&) = delete;
  RunDb& operator=(const RunDb&) = delete;

  const std::string& path() const { return path_; }

  // Whether the path still names the file opened (not deleted, not replaced). Writes check it
  // themselves; the loop's heartbeat calls it so an idle run notices too.
  Status check_identity() const;
  // PRAGMA quick_check: a damaged file is refused before a run continues in it.
  Status quick_check() const;

  // Run state: a small key/value table (config JSON, seed, counters, stop reason, versions).
  Status set_state(const std::string& key, const std::string& value);
  Status set_states(const std::vector<std::pair<std::string, std::string>>& values);  // one transaction
  // `fallback` when the key is absent or cannot be read; read_state tells the two apart.
  std::string state(const std::string& key, const std::string& fallback = "") const;
  Status read_state(const std::string& key, std::string* value, bool* found) const;

  // Inserts a new candidate row (its id given) and updates `state` in the same transaction.
  Status insert_candidate(const CandidateRow& row, const std::vector<std::pair<std::string, std::string>>& state = {});
  // Replaces every column of an existing row (by id) in one transaction.
  Status update_candidate(const CandidateRow& row);
  Status get_candidate(int64_t id, CandidateRow* row) const;
  // All candidates in id order; `with_source` false leaves source, compile_log and metrics_json empty.
  Status list_candidates(std::vector<CandidateRow>* rows, bool with_source = false) const;
  // The smallest id < `before` whose source hash equals `hash` and that is not itself a duplicate.
  std::optional<int64_t> find_by_hash(const std::string& hash, int64_t before) const;
  // Whether a candidate with an id < `before` is still waiting for its proposal ("selected").
  bool proposal_pending_before(int64_t before) const;
  // The smallest id < `before` with this behavioral fingerprint that is not itself a duplicate.
  std::optional<int64_t> find_by_behavior(const std::string& behavior_hash, int64_t before) const;
  // Whether a candidate with an id < `before` may still get a fingerprint (in flight without one).
  bool behavior_pending_before(int64_t before) const;

  // Per-setting results of every candidate of one kind ("selection" or "heldout"), by candidate id.
  Status list_setting_results(const std::string& kind, std::map<int64_t, std::vector<SettingResult>>* out) const;
  // Stores one held-out result (replacing an earlier one for the same candidate and setting).
  Status store_heldout(int64_t candidate_id, const SettingResult& result);
  Status store_heldout_baseline(const BaselineSettingResult& result);
  Status list_heldout_baselines(std::vector<BaselineSettingResult>* out) const;

  Status record_llm_call(const LlmCallRecord& call);
  Status list_llm_calls(std::vector<LlmCallRecord>* calls) const;

  // The agent proposer's transcript (driver/run/run_db_agent.cc).
  Status record_agent_turn(const AgentTurnRecord& turn);
  // Turns of one candidate (every proposal of it) in order; candidate_id 0: every candidate's.
  Status list_agent_turns(int64_t candidate_id, std::vector<AgentTurnRecord>* turns) const;
  // The highest proposal number stored for the candidate (0: none yet).
  Status last_agent_proposal(int64_t candidate_id, int* proposal) const;
  // Draft evaluations of the whole run (summed over every stored turn).
  Status count_draft_evaluations(int64_t* count) const;

  // Appends a line to the run's event log (start, resume, stop, warnings).
  Status add_event(const std::string& kind, const std::string& detail);
  Status list_events(nlohmann::json* events) const;

 private:
  RunDb() = default;
  Status exec(const std::string& sql) const;
  Status migrate();
  Status error(const char* what) const;
  Status begin_write() const;  // identity check + BEGIN IMMEDIATE
  // Ends a failed write transaction. Its own failure is not reported: the error that caused it is
  // the one the caller returns, and SQLite rolls back an open transaction when the file closes.
  void rollback() const { exec("ROLLBACK").IgnoreError(); }
  Status write_row(const CandidateRow& row, bool insert);
  Status write_settings(const CandidateRow& row);
  Status read_settings(int64_t id, const std::string& kind, std::vector<SettingResult>* out) const;
  static Status OpenConnection(const std::string& path, bool read_only, bool immutable, sqlite3** db);
  // Reads PRAGMA user_version on a read-only connection, switching to an immutable one (and
  // setting *immutable) when the storage is read-only and SQLite cannot open the file otherwise.
  Status read_schema_version(int* version, bool* immutable);
  // Opens an existing run: refuses a newer, foreign or (for inspection) pre-1 schema before
  // anything is written, then reopens read-write for Mode::kReadWrite.
  Status open_existing(Mode mode);

  std::string path_;
  sqlite3* db_ = nullptr;
  bool read_only_ = false;
  uint64_t device_ = 0, inode_ = 0;
  mutable std::mutex mutex_;
};

// Current UTC time as "2026-01-31T12:34:56Z".
std::string utc_now();

}  // namespace adrs

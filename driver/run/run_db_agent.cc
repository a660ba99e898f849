// RunDb's agent transcript table (agent_turns, schema version 2). A database made before it, opened
// read-only (so not migrated), simply has no transcripts.
#include <sqlite3.h>

#include "driver/run/run_db.h"
#include "driver/run/run_db_statement.h"

namespace adrs {
namespace {

bool has_agent_table(sqlite3* db) {
  Statement s(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'agent_turns'");
  return s.ok() && s.step() == SQLITE_ROW;
}

}  // namespace

Status RunDb::record_agent_turn(const AgentTurnRecord& t) {
  std::lock_guard lock(mutex_);
  if (read_only_) return Status::Error("the run database " + path_ + " is open read-only");
  if (Status st = check_identity(); !st.ok()) return st;
  Statement s(db_, "INSERT INTO agent_turns (candidate_id, proposal, turn, kind, request, response, tool_results, draft_evals, "
                   "tokens_in, tokens_out, cost_usd, outcome, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)");
  if (!s.ok()) return error("cannot write");
  int i = 1;
  s.bind(i++, t.candidate_id);
  s.bind(i++, int64_t{t.proposal});
  s.bind(i++, int64_t{t.turn});
  for (const std::string* v : {&t.kind, &t.request, &t.response, &t.tool_results}) s.bind(i++, *v);
  s.bind(i++, int64_t{t.draft_evals});
  s.bind(i++, t.tokens_in);
  s.bind(i++, t.tokens_out);
  s.bind(i++, t.cost_usd);
  s.bind(i++, t.outcome);
  s.bind(i++, utc_now());
  if (s.step() != SQLITE_DONE) return error("cannot write");
  return Status::Ok();
}

Status RunDb::list_agent_turns(int64_t candidate_id, std::vector<AgentTurnRecord>* turns) const {
  std::lock_guard lock(mutex_);
  turns->clear();
  if (!has_agent_table(db_)) return Status::Ok();
  Statement s(db_, "SELECT candidate_id, proposal, turn, kind, request, response, tool_results, draft_evals, tokens_in, "
                   "tokens_out, cost_usd, outcome, created_at FROM agent_turns WHERE ?1 = 0 OR candidate_id = ?1 ORDER BY id");
  if (!s.ok()) return error("cannot read");
  s.bind(1, candidate_id);
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) {
    AgentTurnRecord t;
    int i = 0;
    t.candidate_id = s.integer(i++);
    t.proposal = static_cast<int>(s.integer(i++));
    t.turn = static_cast<int>(s.integer(i++));
    for (std::string* v : {&t.kind, &t.request, &t.response, &t.tool_results}) *v = s.text(i++);
    t.draft_evals = static_cast<int>(s.integer(i++));
    t.tokens_in = s.integer(i++);
    t.tokens_out = s.integer(i++);
    t.cost_usd = s.real(i++);
    t.outcome = s.text(i++);
    t.created_at = s.text(i++);
    turns->push_back(std::move(t));
  }
  if (rc != SQLITE_DONE) return error("cannot read");
  return Status::Ok();
}

Status RunDb::last_agent_proposal(int64_t candidate_id, int* proposal) const {
  std::lock_guard lock(mutex_);
  *proposal = 0;
  if (!has_agent_table(db_)) return Status::Ok();
  Statement s(db_, "SELECT COALESCE(MAX(proposal), 0) FROM agent_turns WHERE candidate_id = ?1");
  if (!s.ok()) return error("cannot read");
  s.bind(1, candidate_id);
  if (s.step() != SQLITE_ROW) return error("cannot read");
  *proposal = static_cast<int>(s.integer(0));
  return Status::Ok();
}

Status RunDb::count_draft_evaluations(int64_t* count) const {
  std::lock_guard lock(mutex_);
  *count = 0;
  if (!has_agent_table(db_)) return Status::Ok();
  Statement s(db_, "SELECT COALESCE(SUM(draft_evals), 0) FROM agent_turns");
  if (!s.ok() || s.step() != SQLITE_ROW) return error("cannot read");
  *count = s.integer(0);
  return Status::Ok();
}

}  // namespace adrs

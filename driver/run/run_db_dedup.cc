// RunDb: the duplicate lookups (by source and by behavior) and the order in which results entered
// the population. Two schedules use them differently (driver/run/run_loop.h): the deterministic
// one compares only with smaller ids, once every smaller id has its proposal or fingerprint; the
// asynchronous one compares with any other row, the lookup and the write under one lock, so the
// first stored is the original whatever the ids.
#include <sqlite3.h>

#include "driver/run/run_db.h"
#include "driver/run/run_db_statement.h"

namespace adrs {

namespace {

std::optional<int64_t> first_id(Statement& s) {
  if (s.ok() && s.step() == SQLITE_ROW) return s.integer(0);
  return std::nullopt;
}

}  // namespace

std::optional<int64_t> RunDb::find_by_hash(const std::string& hash, int64_t before) const {
  std::lock_guard lock(mutex_);
  Statement s(db_, "SELECT id FROM candidates WHERE source_hash = ?1 AND id < ?2 AND status != 'duplicate' "
                   "AND status != 'selected' ORDER BY id LIMIT 1");
  s.bind(1, hash);
  s.bind(2, before);
  return first_id(s);
}

std::optional<int64_t> RunDb::find_by_hash_other(const std::string& hash, int64_t self) const {
  std::lock_guard lock(mutex_);
  Statement s(db_, "SELECT id FROM candidates WHERE source_hash = ?1 AND id != ?2 AND status != 'duplicate' "
                   "AND status != 'selected' ORDER BY id LIMIT 1");
  s.bind(1, hash);
  s.bind(2, self);
  return first_id(s);
}

bool RunDb::proposal_pending_before(int64_t before) const {
  std::lock_guard lock(mutex_);
  Statement s(db_, "SELECT 1 FROM candidates WHERE id < ?1 AND status = 'selected' LIMIT 1");
  s.bind(1, before);
  return s.ok() && s.step() == SQLITE_ROW;
}

std::optional<int64_t> RunDb::find_by_behavior(const std::string& behavior_hash, int64_t before) const {
  std::lock_guard lock(mutex_);
  Statement s(db_, "SELECT id FROM candidates WHERE behavior_hash = ?1 AND id < ?2 AND status != 'duplicate' "
                   "ORDER BY id LIMIT 1");
  s.bind(1, behavior_hash);
  s.bind(2, before);
  return first_id(s);
}

std::optional<int64_t> RunDb::find_by_behavior_other(const std::string& behavior_hash, int64_t self) const {
  std::lock_guard lock(mutex_);
  Statement s(db_, "SELECT id FROM candidates WHERE behavior_hash = ?1 AND id != ?2 AND status != 'duplicate' "
                   "ORDER BY id LIMIT 1");
  s.bind(1, behavior_hash);
  s.bind(2, self);
  return first_id(s);
}

bool RunDb::behavior_pending_before(int64_t before) const {
  std::lock_guard lock(mutex_);
  Statement s(db_, "SELECT 1 FROM candidates WHERE id < ?1 AND status IN ('selected', 'proposed') AND behavior_hash = '' LIMIT 1");
  s.bind(1, before);
  return s.ok() && s.step() == SQLITE_ROW;
}

Status RunDb::set_applied_order(const std::vector<std::pair<int64_t, int64_t>>& id_seq) {
  if (id_seq.empty()) return Status::Ok();
  std::lock_guard lock(mutex_);
  if (Status st = begin_write(); !st.ok()) return st;
  for (const auto& [id, seq] : id_seq) {
    Statement s(db_, "UPDATE candidates SET applied_seq = ?1 WHERE id = ?2");
    s.bind(1, seq);
    s.bind(2, id);
    if (!s.ok() || s.step() != SQLITE_DONE) {
      Status failed = error("cannot write");
      rollback();
      return failed;
    }
  }
  if (Status st = exec("COMMIT"); !st.ok()) {
    rollback();
    return st;
  }
  return Status::Ok();
}

}  // namespace adrs

// RunDb: per-setting results (suites and held-out reports) and held-out baselines (schema
// version 3).
#include <sqlite3.h>

#include "driver/run/run_db.h"
#include "driver/run/run_db_statement.h"

namespace adrs {

namespace {

const char* const kSettingColumns =
    "kind, setting, workload, target_density, weight, track, status, score, error, density, score_std, access_density, "
    "ci_low, ci_high, metrics_json";

void bind_setting(Statement& s, int64_t candidate_id, const SettingResult& r) {
  int i = 1;
  s.bind(i++, candidate_id);
  for (const std::string* t : {&r.kind, &r.setting, &r.workload}) s.bind(i++, *t);
  s.bind(i++, r.target_density);
  s.bind(i++, r.weight);
  s.bind(i++, r.track);
  s.bind(i++, r.status);
  for (double v : {r.score, r.error, r.density, r.score_std}) s.bind(i++, v);
  for (const auto* v : {&r.access_density, &r.ci_low, &r.ci_high}) s.bind(i++, *v);
  s.bind(i++, r.metrics_json);
}

SettingResult read_setting(Statement& s, int first) {
  SettingResult r;
  int i = first;
  for (std::string* t : {&r.kind, &r.setting, &r.workload}) *t = s.text(i++);
  r.target_density = s.real(i++);
  r.weight = s.real(i++);
  r.track = s.text(i++);
  r.status = s.text(i++);
  for (double* v : {&r.score, &r.error, &r.density, &r.score_std}) *v = s.real(i++);
  for (auto* v : {&r.access_density, &r.ci_low, &r.ci_high}) *v = s.opt_real(i++);
  r.metrics_json = s.text(i++);
  return r;
}

const std::string kInsertSetting = std::string("INSERT OR REPLACE INTO setting_results (candidate_id, ") + kSettingColumns +
                                   ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)";

}  // namespace

// Inside the caller's transaction: the row's selection settings replace the stored ones.
Status RunDb::write_settings(const CandidateRow& row) {
  {
    Statement s(db_, "DELETE FROM setting_results WHERE candidate_id = ?1 AND kind = 'selection'");
    s.bind(1, row.id);
    if (!s.ok() || s.step() != SQLITE_DONE) return error("cannot write");
  }
  for (const SettingResult& r : row.settings) {
    Statement s(db_, kInsertSetting);
    if (!s.ok()) return error("cannot write");
    bind_setting(s, row.id, r);
    if (s.step() != SQLITE_DONE) return error("cannot write");
  }
  return Status::Ok();
}

// The caller holds the mutex.
Status RunDb::read_settings(int64_t id, const std::string& kind, std::vector<SettingResult>* out) const {
  out->clear();
  Statement s(db_, std::string("SELECT ") + kSettingColumns + " FROM setting_results WHERE candidate_id = ?1 AND kind = ?2 ORDER BY rowid");
  if (!s.ok()) return error("cannot read");
  s.bind(1, id);
  s.bind(2, kind);
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) out->push_back(read_setting(s, 0));
  return rc == SQLITE_DONE ? Status::Ok() : error("cannot read");
}

Status RunDb::list_setting_results(const std::string& kind, std::map<int64_t, std::vector<SettingResult>>* out) const {
  std::lock_guard lock(mutex_);
  out->clear();
  Statement s(db_, std::string("SELECT candidate_id, ") + kSettingColumns + " FROM setting_results WHERE kind = ?1 ORDER BY candidate_id, rowid");
  if (!s.ok()) return error("cannot read");
  s.bind(1, kind);
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) (*out)[s.integer(0)].push_back(read_setting(s, 1));
  return rc == SQLITE_DONE ? Status::Ok() : error("cannot read");
}

Status RunDb::store_heldout(int64_t candidate_id, const SettingResult& result) {
  std::lock_guard lock(mutex_);
  if (Status st = begin_write(); !st.ok()) return st;
  Statement s(db_, kInsertSetting);
  Status st = s.ok() ? Status::Ok() : error("cannot write");
  if (st.ok()) {
    SettingResult r = result;
    r.kind = "heldout";
    bind_setting(s, candidate_id, r);
    if (s.step() != SQLITE_DONE) st = error("cannot write");
  }
  if (st.ok()) st = exec("COMMIT");
  if (!st.ok()) rollback();
  return st;
}

Status RunDb::store_heldout_baseline(const BaselineSettingResult& r) {
  std::lock_guard lock(mutex_);
  if (Status st = begin_write(); !st.ok()) return st;
  Statement s(db_, "INSERT OR REPLACE INTO heldout_baselines (setting, baseline, track, status, message, score, error, density, "
                   "ci_low, ci_high) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
  Status st = s.ok() ? Status::Ok() : error("cannot write");
  if (st.ok()) {
    int i = 1;
    for (const std::string* t : {&r.setting, &r.baseline, &r.track, &r.status, &r.message}) s.bind(i++, *t);
    for (const auto* v : {&r.score, &r.error, &r.density, &r.ci_low, &r.ci_high}) s.bind(i++, *v);
    if (s.step() != SQLITE_DONE) st = error("cannot write");
  }
  if (st.ok()) st = exec("COMMIT");
  if (!st.ok()) rollback();
  return st;
}

Status RunDb::list_heldout_baselines(std::vector<BaselineSettingResult>* out) const {
  std::lock_guard lock(mutex_);
  out->clear();
  Statement s(db_, "SELECT setting, baseline, track, status, message, score, error, density, ci_low, ci_high FROM heldout_baselines "
                   "ORDER BY rowid");
  if (!s.ok()) return error("cannot read");
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) {
    BaselineSettingResult r;
    int i = 0;
    for (std::string* t : {&r.setting, &r.baseline, &r.track, &r.status, &r.message}) *t = s.text(i++);
    for (auto* v : {&r.score, &r.error, &r.density, &r.ci_low, &r.ci_high}) *v = s.opt_real(i++);
    out->push_back(std::move(r));
  }
  return rc == SQLITE_DONE ? Status::Ok() : error("cannot read");
}

}  // namespace adrs

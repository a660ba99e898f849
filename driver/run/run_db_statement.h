// Statement: a prepared SQLite statement that finalizes itself. Internal to the run database
// (driver/run_db*.cc); not part of RunDb's interface.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>

namespace adrs {

// A prepared statement that finalizes itself.
class Statement {
 public:
  Statement(sqlite3* db, const std::string& sql) { rc_ = sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt_, nullptr); }
  ~Statement() { sqlite3_finalize(stmt_); }
  bool ok() const { return rc_ == SQLITE_OK; }
  sqlite3_stmt* get() { return stmt_; }
  void bind(int i, const std::string& v) { sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT); }
  void bind(int i, int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
  void bind(int i, double v) { sqlite3_bind_double(stmt_, i, v); }
  void bind(int i, const std::optional<int64_t>& v) { v ? bind(i, *v) : (void)sqlite3_bind_null(stmt_, i); }
  void bind(int i, const std::optional<double>& v) { v ? bind(i, *v) : (void)sqlite3_bind_null(stmt_, i); }
  int step() { return sqlite3_step(stmt_); }
  std::string text(int i) {
    const unsigned char* t = sqlite3_column_text(stmt_, i);
    return t ? std::string(reinterpret_cast<const char*>(t), sqlite3_column_bytes(stmt_, i)) : "";
  }
  int64_t integer(int i) { return sqlite3_column_int64(stmt_, i); }
  double real(int i) { return sqlite3_column_double(stmt_, i); }
  bool null(int i) { return sqlite3_column_type(stmt_, i) == SQLITE_NULL; }
  std::optional<int64_t> opt_integer(int i) { return null(i) ? std::nullopt : std::optional<int64_t>(integer(i)); }
  std::optional<double> opt_real(int i) { return null(i) ? std::nullopt : std::optional<double>(real(i)); }

 private:
  sqlite3_stmt* stmt_ = nullptr;
  int rc_ = SQLITE_ERROR;
};

}  // namespace adrs

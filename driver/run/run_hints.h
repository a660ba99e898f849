// Hints: notes a researcher gives a running search ("try sampling the residual keys"), as the case
// study's authors did when they told their agent what to try.
//
//   adrs hint RUN "text"     stores hint number k as an event (kind "hint") in the run database
//   adrs hint RUN --clear    stores an event of kind "hint_clear"
//   adrs resume RUN --hint   the same, before the run continues
//
// The current hint is the text of the last "hint" event unless a "hint_clear" came after it. The
// loop reads it when it selects each candidate and stores it in the candidate's request record
// (request_json "hint": {"number", "text"}), so the LLM's prompt for that candidate carries it, a
// proposal redone after a kill carries the same one, and `show` and the report tell which
// candidates saw which hint. The offline proposer reads no prompt: hints do not change it.
//
// Safe while another process runs the run: a hint is one SQLite transaction from a second
// connection (WAL, busy timeout); the running loop reads it on its next selection.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "driver/run/run_db.h"

namespace adrs {

inline constexpr size_t kMaxHintBytes = 4000;

struct RunHint {
  int number = 0;  // 1, 2, ... in the order given; 0: no hint is active
  std::string text;
};

// The active hint (number 0 when none).
Status current_hint(const RunDb& db, RunHint* hint);

// Stores a new hint; errors name the limit (empty text, over kMaxHintBytes, control characters).
Status add_hint(RunDb& db, const std::string& text, RunHint* added);
Status clear_hint(RunDb& db);

// The hint a candidate's request record holds (number 0 when none).
RunHint hint_of_request(const std::string& request_json);

}  // namespace adrs

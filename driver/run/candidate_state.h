// The candidate state machine and the run's stop reasons, as types. Strings appear only at the
// edges: the run database's status column, --json output and `adrs status` (the names below are
// those strings, which users and stored runs already have).
//
//   selected ──propose──▶ proposed ──compile+evaluate──▶ evaluated | failed | filtered
//            └──────────▶ failed (patch error) | duplicate (same normalized source as an earlier id)
//   proposed ──────────▶ duplicate (same selections as an earlier candidate)
// "selected" and "proposed" are the only non-terminal states; resume redoes exactly those.
// check_transition() is the one place that knows which moves are legal.
#pragma once

#include <iosfwd>
#include <string>
#include <string_view>

#include "util/status.h"

namespace adrs {

enum class CandidateStatus { kSelected, kProposed, kEvaluated, kFailed, kFiltered, kDuplicate };

const char* candidate_status_name(CandidateStatus status);
// False for a name no adrs wrote (a damaged or foreign database).
bool parse_candidate_status(std::string_view name, CandidateStatus* status);
std::ostream& operator<<(std::ostream& out, CandidateStatus status);  // its name (test messages)
inline bool is_terminal(CandidateStatus s) { return s != CandidateStatus::kSelected && s != CandidateStatus::kProposed; }

// Ok when a row may move from `from` to `to` (staying in a non-terminal state is legal: a redone
// step rewrites its row); a fault naming both states when not.
Status check_transition(CandidateStatus from, CandidateStatus to);

// Why a run stopped (kNone while it runs).
enum class StopReason { kNone, kMaxCandidates, kTargetScore, kPatience, kMaxCost, kMaxWallS, kProposerErrors, kInterrupted, kError };

// "" for kNone; else the name `adrs status` shows (max_candidates, ..., interrupted, error).
const char* stop_reason_name(StopReason reason);
// kNone for "" or a name this adrs does not know.
StopReason parse_stop_reason(std::string_view name);

}  // namespace adrs

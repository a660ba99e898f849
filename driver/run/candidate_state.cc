#include "driver/run/candidate_state.h"

#include <array>
#include <ostream>
#include <utility>

namespace adrs {

namespace {

constexpr std::array<std::pair<CandidateStatus, const char*>, 6> kStatusNames{{
    {CandidateStatus::kSelected, "selected"},
    {CandidateStatus::kProposed, "proposed"},
    {CandidateStatus::kEvaluated, "evaluated"},
    {CandidateStatus::kFailed, "failed"},
    {CandidateStatus::kFiltered, "filtered"},
    {CandidateStatus::kDuplicate, "duplicate"},
}};

constexpr std::array<std::pair<StopReason, const char*>, 9> kStopNames{{
    {StopReason::kNone, ""},
    {StopReason::kMaxCandidates, "max_candidates"},
    {StopReason::kTargetScore, "target_score"},
    {StopReason::kPatience, "patience"},
    {StopReason::kMaxCost, "max_cost"},
    {StopReason::kMaxWallS, "max_wall_s"},
    {StopReason::kProposerErrors, "proposer_errors"},
    {StopReason::kInterrupted, "interrupted"},
    {StopReason::kError, "error"},
}};

}  // namespace

const char* candidate_status_name(CandidateStatus status) {
  for (const auto& [value, name] : kStatusNames)
    if (value == status) return name;
  return "unknown";
}

std::ostream& operator<<(std::ostream& out, CandidateStatus status) { return out << candidate_status_name(status); }

bool parse_candidate_status(std::string_view name, CandidateStatus* status) {
  for (const auto& [value, known] : kStatusNames)
    if (name == known) {
      *status = value;
      return true;
    }
  return false;
}

Status check_transition(CandidateStatus from, CandidateStatus to) {
  using S = CandidateStatus;
  bool legal = false;
  switch (from) {
    case S::kSelected: legal = to == S::kSelected || to == S::kProposed || to == S::kFailed || to == S::kDuplicate; break;
    case S::kProposed: legal = !is_terminal(to) ? to == S::kProposed : true; break;
    default: legal = false;  // a terminal row never changes
  }
  if (legal) return Status::Ok();
  return Status::Fault(std::string("internal error: a candidate cannot go from ") + candidate_status_name(from) + " to " +
                       candidate_status_name(to) + " (please report this)");
}

const char* stop_reason_name(StopReason reason) {
  for (const auto& [value, name] : kStopNames)
    if (value == reason) return name;
  return "";
}

StopReason parse_stop_reason(std::string_view name) {
  for (const auto& [value, known] : kStopNames)
    if (name == known) return value;
  return StopReason::kNone;
}

}  // namespace adrs

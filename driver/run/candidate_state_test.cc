// The candidate state machine: the legal moves, the names stored in the database, stop reasons.
#include "driver/run/candidate_state.h"

#include <gtest/gtest.h>

namespace adrs {
namespace {

using S = CandidateStatus;
constexpr S kAll[] = {S::kSelected, S::kProposed, S::kEvaluated, S::kFailed, S::kFiltered, S::kDuplicate};

TEST(CandidateState, EveryStatusNameRoundTripsAndUnknownNamesAreRefused) {
  for (S s : kAll) {
    S parsed = S::kSelected;
    ASSERT_TRUE(parse_candidate_status(candidate_status_name(s), &parsed)) << candidate_status_name(s);
    EXPECT_EQ(parsed, s);
  }
  S parsed = S::kSelected;
  EXPECT_FALSE(parse_candidate_status("done", &parsed));
  EXPECT_FALSE(parse_candidate_status("", &parsed));
}

TEST(CandidateState, OnlyTheDocumentedMovesAreLegal) {
  EXPECT_TRUE(check_transition(S::kSelected, S::kProposed).ok());
  EXPECT_TRUE(check_transition(S::kSelected, S::kFailed).ok());
  EXPECT_TRUE(check_transition(S::kSelected, S::kDuplicate).ok());
  EXPECT_FALSE(check_transition(S::kSelected, S::kEvaluated).ok()) << "a candidate is proposed before it is evaluated";
  EXPECT_FALSE(check_transition(S::kSelected, S::kFiltered).ok());
  for (S to : {S::kProposed, S::kEvaluated, S::kFailed, S::kFiltered, S::kDuplicate})
    EXPECT_TRUE(check_transition(S::kProposed, to).ok()) << to;
  EXPECT_FALSE(check_transition(S::kProposed, S::kSelected).ok());
  for (S from : {S::kEvaluated, S::kFailed, S::kFiltered, S::kDuplicate})
    for (S to : kAll) {
      const Status s = check_transition(from, to);
      EXPECT_FALSE(s.ok()) << from << " -> " << to;
      EXPECT_TRUE(s.is(StatusCode::kFault)) << "an illegal move is a fault of adrs, not of the candidate";
    }
}

TEST(CandidateState, OnlySelectedAndProposedAreInFlight) {
  for (S s : kAll) EXPECT_EQ(is_terminal(s), s != S::kSelected && s != S::kProposed) << s;
}

TEST(CandidateState, StopReasonNamesRoundTrip) {
  for (StopReason r : {StopReason::kMaxCandidates, StopReason::kTargetScore, StopReason::kPatience, StopReason::kMaxCost,
                       StopReason::kMaxWallS, StopReason::kInterrupted, StopReason::kError})
    EXPECT_EQ(parse_stop_reason(stop_reason_name(r)), r) << stop_reason_name(r);
  EXPECT_EQ(parse_stop_reason(""), StopReason::kNone);
  EXPECT_STREQ(stop_reason_name(StopReason::kMaxCandidates), "max_candidates");
}

}  // namespace
}  // namespace adrs

// How terminal rows enter the population, under both schedules, and the stop conditions that
// depend on it (driver/run/run_loop_internal.h).
//   deterministic: in id order; candidate i waits for rows 1..i-parallel.
//   asynchronous:  in completion order, stored as applied_seq in one transaction before any new
//                  choice can depend on it; a duplicate waits for the row it copies (its result is
//                  that row's). Resume re-adds rows in the stored order, so the population equals
//                  the one the killed process had.
#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "driver/run/run_loop_internal.h"

namespace adrs {

namespace {

// The kind of a proposer error: "llm:missing_key" from "llm:missing_key: the environment ...",
// else the first words of the message (a template that cannot be rendered, ...).
std::string proposer_error_kind(const CandidateRow& row) {
  const std::string& m = row.message;
  const size_t colon = m.find(':', m.rfind("llm:", 0) == 0 ? 4 : 0);
  return m.substr(0, std::min<size_t>(colon == std::string::npos ? m.size() : colon, 60));
}

}  // namespace

// Adds one terminal row (a duplicate with the result of the row it copies). A duplicate may point
// to a row that became a duplicate itself after the lookup (the same source as a candidate still
// being evaluated, which then turned out to select like an earlier one): the chain is followed to
// the row whose result counts.
void Loop::absorb(const CandidateRow& row) {
  const CandidateRow* resolved = &row;
  for (int hops = 0; hops < 16 && resolved->status == CandidateStatus::kDuplicate && resolved->duplicate_of; ++hops) {
    auto it = rows_.find(*resolved->duplicate_of);
    if (it == rows_.end()) break;
    resolved = &it->second;
  }
  population_.add(row, *resolved);
  count_proposer_errors(row);
  check_population_stops();
}

bool Loop::take_in(int64_t through) {
  while (taken_in_ < through) {
    auto it = rows_.find(taken_in_ + 1);
    if (it == rows_.end() || !it->second.terminal()) return false;
    absorb(it->second);
    ++taken_in_;
  }
  return true;
}

void Loop::restore_applied_order() {
  std::vector<const CandidateRow*> sequenced;
  for (const auto& [id, row] : rows_)
    if (row.terminal() && row.applied_seq) sequenced.push_back(&row);
  std::sort(sequenced.begin(), sequenced.end(), [](auto* a, auto* b) { return *a->applied_seq < *b->applied_seq; });
  for (const CandidateRow* row : sequenced) {
    absorb(*row);
    applied_.insert(row->id);
  }
  for (const auto& [id, row] : rows_)
    if (row.terminal() && !applied_.count(id)) finished_.push_back(id);
}

void Loop::take_in_finished() {
  std::vector<std::pair<int64_t, int64_t>> order;  // (id, applied_seq) of the rows taken now
  for (bool progress = true; progress;) {
    progress = false;
    for (auto it = finished_.begin(); it != finished_.end();) {
      const CandidateRow& row = rows_[*it];
      const bool waits_for_original = row.status == CandidateStatus::kDuplicate && row.duplicate_of &&
                                      rows_.count(*row.duplicate_of) && !applied_.count(*row.duplicate_of);
      if (waits_for_original) {
        ++it;
        continue;
      }
      absorb(row);
      applied_.insert(row.id);
      order.push_back({row.id, population_.added()});
      it = finished_.erase(it);
      progress = true;
    }
  }
  if (Status s = db_.set_applied_order(order); !s.ok()) stop(StopReason::kError, s.message(), s);
}

// A broken LLM setup (a missing key, a server that is down) fails every proposal the same way: that
// many in a row stop the run instead of burning its budget.
void Loop::count_proposer_errors(const CandidateRow& row) {
  if (terminal_at_start_.count(row.id)) return;
  const std::string kind = row.failure == "proposer_error" ? proposer_error_kind(row) : "";
  errors_in_a_row_ = kind.empty() ? 0 : kind == error_kind_ ? errors_in_a_row_ + 1 : 1;
  error_kind_ = kind;
  if (!kind.empty()) last_error_ = row;
  if (config_.max_proposer_errors > 0 && errors_in_a_row_ >= config_.max_proposer_errors)
    stop(StopReason::kProposerErrors,
         std::to_string(errors_in_a_row_) + " proposer errors in a row (" + error_kind_ + ", up to #" + std::to_string(last_error_.id) +
             "): " + last_error_.message.substr(0, 600) +
             "\nfix the cause, then adrs resume continues the run (stop.max_proposer_errors sets the limit)");
}

// The stop conditions that depend on the candidates taken in (checked in intake order).
void Loop::check_population_stops() {
  const Population& p = population_;
  if (std::isfinite(config_.target_score) && p.best_id() && p.best_score() >= config_.target_score)
    stop(StopReason::kTargetScore, fmt::format("the best score {:.6f} reached the target {:.6f}", p.best_score(), config_.target_score));
  if (config_.patience > 0 && p.best_id() && p.added_since_improvement() >= config_.patience)
    stop(StopReason::kPatience, "no improvement in the last " + std::to_string(config_.patience) + " candidates (best is #" +
                                    std::to_string(*p.best_id()) + ")");
  if (config_.max_cost > 0 && p.total_cost() >= config_.max_cost)
    stop(StopReason::kMaxCost, fmt::format("proposer calls cost ${:.4f}, reaching the limit ${:.4f}", p.total_cost(), config_.max_cost));
}

}  // namespace adrs

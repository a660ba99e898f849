// The data behind `adrs report`: everything the page draws, gathered from a run's database as one
// JSON object:
//   run        the summary `adrs status --json` prints (status, stop reason, best, counts)
//   candidates one entry per candidate: lineage, island, mutation, status and failure, metrics,
//              the model that proposed it, and the diff against its parent
//   llm        usage per model: calls, tokens, cost, candidates made, improvements over the parent
//   baselines  every baseline masker scored at the run's setting (workload, target density, first
//              evaluation seed), cached in <run dir>/report_baselines.json
//   heldout    held-out results, where the run has them (empty otherwise)
// Candidate text (messages, diffs) is untrusted (an LLM wrote it): the page must only ever insert
// it as text, and report_page.h embeds the JSON so that it cannot close its script element.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "driver/run/run_db.h"
#include "util/status.h"

namespace adrs {

struct ReportOptions {
  bool baselines = true;   // score the baselines (or reuse the cached scores)
  bool progress = true;    // progress lines on stderr while scoring them
  std::string baselines_dir;  // "" : default_baselines_dir()
};

Status build_report_data(const RunDb& db, const std::string& run_dir, const ReportOptions& options,
                         nlohmann::json* out);

// The best baseline (highest score) that the last `adrs report` of `run_dir` scored at the run's
// setting, as {baseline, score, error, density}; null when no report has scored them yet.
nlohmann::json best_scored_baseline(const std::string& run_dir);

// The candidates table as CSV (RFC 4180 quoting), one row per candidate, for notebooks.
std::string candidates_csv(const nlohmann::json& report_data);

}  // namespace adrs

// Summaries of a run for `adrs run` (at the end), `adrs resume` and `adrs status`: progress, why
// it stopped and what to do next, the best candidate, failures by reason, rates and cost.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "driver/run/run_db.h"

namespace adrs {

// Builds the summary from the database (safe while another process runs the run).
// `own_lock`: the caller is the process running the run (its own lock does not mean "running").
Status run_summary(const RunDb& db, const std::string& run_dir, nlohmann::json* summary, bool own_lock = false);

// Human form: the run's state, the best candidate and the commands to inspect it.
void print_run_summary(const nlohmann::json& summary);

// Whether a process holds the run's lock right now.
bool run_is_active(const std::string& run_dir);

// The sentence that explains a stop reason and says how to continue.
std::string explain_stop(const std::string& reason, const std::string& detail, const std::string& run_dir);

}  // namespace adrs

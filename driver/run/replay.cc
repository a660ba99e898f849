#include "driver/run/replay.h"

#include <stdlib.h>

#include <filesystem>
#include <utility>

#include "driver/run/suite_eval.h"
#include "driver/run/run_session.h"

namespace adrs {

namespace {

RunConfig replay_setting(const RunConfig& config, const ReplaySetting& change) {
  RunConfig replay = config;
  replay.cascade = false;
  replay.eval_threads = 0;
  if (!change.workload.empty()) replay.workload = change.workload;
  if (change.seed >= 0) {
    replay.eval_seed = static_cast<uint64_t>(change.seed);
    replay.eval_seeds = 1;
  }
  if (!std::isnan(change.target_density)) replay.target_density = change.target_density;
  if (!change.workload.empty() || !std::isnan(change.target_density)) replay.suite.clear();  // an ad-hoc setting: a suite of one
  return replay;
}

// Evaluates the source on every setting and seed with a fresh cache (removed afterwards), so the
// replay really rebuilds the candidate from its stored source.
Status evaluate_fresh(const RunConfig& setting, const std::string& source, ReplayOutcome* out) {
  const char* tmp = std::getenv("TMPDIR");
  std::string cache = std::string(tmp && *tmp ? tmp : "/tmp") + "/adrs-replay-XXXXXX";
  if (!::mkdtemp(cache.data())) return Status::Fault("cannot create a temporary directory (is /tmp full? set TMPDIR)");
  RunEvaluators evaluators;
  const Status s = make_run_evaluators(setting, cache, &evaluators);
  std::vector<SettingRun> runs(evaluators.settings.size());
  out->ok = s.ok();
  for (SettingEvaluators& one : evaluators.settings) {
    SettingRun& run = runs[one.suite_index];
    run.setting = one.setting;
    for (auto& e : one.per_seed) {
      if (!out->ok) break;
      EvalResult r = e->evaluate_source(source);
      if (!r.ok()) {
        out->failed = std::move(r);
        out->ok = false;
        break;
      }
      run.seeds.push_back(e->options().seed);
      run.results.push_back(std::move(r));
    }
  }
  evaluators = RunEvaluators();
  std::error_code ignored;
  std::filesystem::remove_all(cache, ignored);
  if (out->ok) store_suite_metrics(runs, setting.track, &out->replayed);
  return s;
}

}  // namespace

std::string held_out_suggestion(const std::string& workload) {
  std::string other;
  for (const std::string& name : workload_preset_names()) {
    if (name != workload && name.rfind(workload, 0) == 0 && (name.find("heldout") != std::string::npos || name.find("held") != std::string::npos))
      return name;
    if (name != workload && other.empty()) other = name;
  }
  return other;
}

Status replay_candidate(const std::string& run_dir, int64_t id, const ReplaySetting& change, ReplayOutcome* out) {
  std::unique_ptr<RunDb> db;
  if (Status s = open_run_for_reading(run_dir, &db); !s.ok()) return s;
  CandidateRow& row = out->stored;
  if (Status s = db->get_candidate(id, &row); !s.ok()) return s;
  if (row.source.empty())
    return Status::Error("candidate " + std::to_string(id) + " has no source yet (status " + candidate_status_name(row.status) + ")");
  const RunConfig& config = out->run_config;
  if (Status s = stored_config(*db, &out->run_config); !s.ok()) return s;
  out->setting = replay_setting(config, change);
  const RunConfig& replay = out->setting;
  out->own_setting = replay.workload == config.workload && replay.eval_seed == config.eval_seed &&
                     replay.eval_seeds == config.eval_seeds && replay.target_density == config.target_density &&
                     replay.suite == config.suite;
  if (Status s = evaluate_fresh(replay, row.source, out); !s.ok()) return s;
  out->suggested_workload = held_out_suggestion(config.workload);
  out->comparable = out->own_setting && row.status == CandidateStatus::kEvaluated;
  out->identical = out->comparable && out->ok;
  if (out->identical)
    for (auto [x, y] : {std::pair{row.score, out->replayed.score}, {row.error, out->replayed.error}, {row.density, out->replayed.density}})
      out->identical = out->identical && *x == *y;
  return Status::Ok();
}

}  // namespace adrs

// adrs replay RUN ID: recompile a stored candidate from its source in a fresh cache, evaluate it
// again and print stored vs replayed metrics. On the run's own workload and seeds the difference
// must be 0 (anything else is a reproducibility bug); --workload scores it elsewhere, e.g. on a
// held-out workload, the honest test of whether a candidate overfits the run's workload.
#include <stdlib.h>

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "driver/run/candidate_step.h"
#include "driver/cli/commands.h"
#include "driver/run/run_session.h"
#include "driver/cli/table.h"

namespace adrs {

namespace {

struct ReplayArgs {
  std::string run_dir;
  int64_t id = 0;
  std::string workload;
  int64_t seed = -1;
  double target_density = NAN;
  bool json = false;
};

int fail(const std::string& message) {
  std::fprintf(stderr, "adrs replay: %s\n", message.c_str());
  return 2;
}

// A workload to suggest for held-out scoring: a preset named like the run's with "heldout" in it,
// else another preset.
std::string held_out_suggestion(const std::string& workload) {
  std::string other;
  for (const std::string& name : workload_preset_names()) {
    if (name != workload && name.rfind(workload, 0) == 0 && (name.find("heldout") != std::string::npos || name.find("held") != std::string::npos))
      return name;
    if (name != workload && other.empty()) other = name;
  }
  return other;
}

int run_replay(ReplayArgs& a) {
  std::unique_ptr<RunDb> db;
  if (Status s = open_run_for_reading(a.run_dir, &db); !s.ok()) return fail(s.message());
  CandidateRow row;
  if (Status s = db->get_candidate(a.id, &row); !s.ok()) return fail(s.message());
  if (row.source.empty()) return fail("candidate " + std::to_string(a.id) + " has no source yet (status " + row.status + ")");
  RunConfig config;
  if (Status s = stored_config(*db, &config); !s.ok()) return fail(s.message());
  RunConfig replay = config;
  replay.cascade = false;
  replay.eval_threads = 0;
  if (!a.workload.empty()) replay.workload = a.workload;
  if (a.seed >= 0) {
    replay.eval_seed = static_cast<uint64_t>(a.seed);
    replay.eval_seeds = 1;
  }
  if (!std::isnan(a.target_density)) replay.target_density = a.target_density;
  if (!a.workload.empty() || !std::isnan(a.target_density)) replay.suite.clear();  // an ad-hoc setting: a suite of one
  const bool own_setting = replay.workload == config.workload && replay.eval_seed == config.eval_seed &&
                           replay.eval_seeds == config.eval_seeds && replay.target_density == config.target_density && replay.suite == config.suite;
  // A fresh compile cache, so the replay really rebuilds the candidate from its stored source.
  const char* tmp = std::getenv("TMPDIR");
  std::string cache = std::string(tmp && *tmp ? tmp : "/tmp") + "/adrs-replay-XXXXXX";
  if (!::mkdtemp(cache.data())) return fail("cannot create a temporary directory (is /tmp full? set TMPDIR)");
  RunEvaluators evaluators;
  Status s = make_run_evaluators(replay, cache, &evaluators);
  std::vector<SettingRun> runs(evaluators.settings.size());
  EvalResult failed;
  bool ok = s.ok();
  for (SettingEvaluators& setting : evaluators.settings) {
    SettingRun& run = runs[setting.suite_index];
    run.setting = setting.setting;
    for (auto& e : setting.per_seed) {
      if (!ok) break;
      EvalResult r = e->evaluate_source(row.source);
      if (!r.ok()) {
        failed = r;
        ok = false;
        break;
      }
      run.seeds.push_back(e->options().seed);
      run.results.push_back(std::move(r));
    }
  }
  evaluators = RunEvaluators();
  std::error_code ignored;
  std::filesystem::remove_all(cache, ignored);
  if (!s.ok()) return fail(s.message());
  CandidateRow replayed;
  if (ok) store_suite_metrics(runs, replay.track, &replayed);
  const std::string suggestion = held_out_suggestion(config.workload);
  const bool comparable = own_setting && row.status == "evaluated";
  bool same = comparable && ok;
  if (same)
    for (auto [x, y] : {std::pair{row.score, replayed.score}, {row.error, replayed.error}, {row.density, replayed.density}})
      same = same && *x == *y;
  if (a.json) {
    nlohmann::json j = {{"id", row.id}, {"workload", replay.workload}, {"eval_seed", replay.eval_seed},
                        {"eval_seeds", replay.eval_seeds}, {"target_density", replay.target_density},
                        {"own_setting", own_setting}, {"status", ok ? "ok" : status_name(failed.status)},
                        {"message", ok ? "" : failed.message}};
    auto o = [](const std::optional<double>& v) { return v ? nlohmann::json(*v) : nlohmann::json(); };
    j["stored"] = {{"score", o(row.score)}, {"error", o(row.error)}, {"density", o(row.density)}};
    j["replayed"] = {{"score", o(replayed.score)}, {"error", o(replayed.error)}, {"density", o(replayed.density)}, {"score_std", o(replayed.score_std)}};
    if (comparable) j["identical"] = same;
    if (!suggestion.empty()) j["suggested_workload"] = suggestion;
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::printf("replay of candidate %lld from %s: workload %s, seeds %llu..%llu, target density %.3g%s\n",
                static_cast<long long>(row.id), a.run_dir.c_str(), replay.workload.c_str(),
                static_cast<unsigned long long>(replay.eval_seed), static_cast<unsigned long long>(replay.eval_seed + replay.eval_seeds - 1),
                replay.target_density, own_setting ? " (the run's own setting)" : "");
    if (!ok) {
      std::printf("  replay failed: %s: %s\n", status_name(failed.status), failed.message.c_str());
    } else {
      Table t({"metric", "stored", "replayed", "difference"});
      auto add = [&](const char* name, const std::optional<double>& x, const std::optional<double>& y) {
        t.add_row({name, x ? format("%.9f", *x) : "-", format("%.9f", *y), x && own_setting ? format("%.3g", *y - *x) : "-"});
      };
      add("score", row.score, replayed.score);
      add("error", row.error, replayed.error);
      add("density", row.density, replayed.density);
      std::printf("%s", t.render("  ").c_str());
      if (comparable) std::printf("  %s\n", same ? "identical: the stored result reproduces exactly" : "DIFFERENT: the stored result does not reproduce");
      else if (!own_setting) std::printf("  (another setting than the run's: stored and replayed are not expected to match)\n");
    }
    if (!suggestion.empty() && replay.workload == config.workload)
      std::printf("  held-out check: %s replay %s %lld --workload %s\n", adrs_command_name().c_str(), a.run_dir.c_str(),
                  static_cast<long long>(row.id), suggestion.c_str());
  }
  if (!ok) return 1;
  return comparable && !same ? 1 : 0;
}

}  // namespace

CommandRunner add_replay_command(CLI::App& app) {
  auto a = std::make_shared<ReplayArgs>();
  CLI::App* cmd = app.add_subcommand("replay", "Recompile and re-evaluate a stored candidate; compare with the stored metrics");
  cmd->add_option("run", a->run_dir, "Run directory, e.g. runs/my-run")->required();
  cmd->add_option("id", a->id, "Candidate id")->required();
  cmd->add_option("--workload", a->workload, "Score on another workload preset (default: the run's)");
  cmd->add_option("--seed", a->seed, "Evaluation seed (default: the run's seeds)");
  cmd->add_option("--target-density", a->target_density, "Target density (default: the run's)");
  cmd->add_flag("--json", a->json, "Print JSON instead of a table");
  cmd->footer("Exit status: 0 ok; 1 when the replay failed or differs from the stored result on the run's own setting.");
  return [a] { return run_replay(*a); };
}

}  // namespace adrs

// adrs replay RUN ID: recompile a stored candidate from its source in a fresh cache, evaluate it
// again and print stored vs replayed metrics. On the run's own workload and seeds the difference
// must be 0 (anything else is a reproducibility bug); --workload scores it elsewhere, e.g. on a
// held-out workload, the honest test of whether a candidate overfits the run's workload.
#include <cmath>
#include <cstdio>

#include <fmt/format.h>

#include "driver/run/replay.h"
#include "driver/cli/commands.h"
#include "driver/run/run_session.h"
#include "util/table.h"

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

void print_replay_json(const ReplayOutcome& r) {
  const RunConfig& replay = r.setting;
  nlohmann::json j = {{"id", r.stored.id}, {"workload", replay.workload}, {"eval_seed", replay.eval_seed},
                      {"eval_seeds", replay.eval_seeds}, {"target_density", replay.target_density},
                      {"own_setting", r.own_setting}, {"status", r.ok ? "ok" : status_name(r.failed.status)},
                      {"message", r.ok ? "" : r.failed.message}};
  auto o = [](const std::optional<double>& v) { return v ? nlohmann::json(*v) : nlohmann::json(); };
  j["stored"] = {{"score", o(r.stored.score)}, {"error", o(r.stored.error)}, {"density", o(r.stored.density)}};
  j["replayed"] = {{"score", o(r.replayed.score)}, {"error", o(r.replayed.error)}, {"density", o(r.replayed.density)},
                   {"score_std", o(r.replayed.score_std)}};
  if (r.comparable) j["identical"] = r.identical;
  if (!r.suggested_workload.empty()) j["suggested_workload"] = r.suggested_workload;
  std::printf("%s\n", j.dump(2).c_str());
}

void print_replay_table(const ReplayArgs& a, const ReplayOutcome& r) {
  const RunConfig& replay = r.setting;
  std::printf("replay of candidate %lld from %s: workload %s, seeds %llu..%llu, target density %.3g%s\n",
              static_cast<long long>(r.stored.id), a.run_dir.c_str(), replay.workload.c_str(),
              static_cast<unsigned long long>(replay.eval_seed), static_cast<unsigned long long>(replay.eval_seed + replay.eval_seeds - 1),
              replay.target_density, r.own_setting ? " (the run's own setting)" : "");
  if (!r.ok) {
    std::printf("  replay failed: %s: %s\n", status_name(r.failed.status), r.failed.message.c_str());
  } else {
    Table t({"metric", "stored", "replayed", "difference"});
    auto add = [&](const char* name, const std::optional<double>& x, const std::optional<double>& y) {
      t.add_row({name, x ? fmt::format("{:.9f}", *x) : "-", fmt::format("{:.9f}", *y), x && r.own_setting ? fmt::format("{:.3g}", *y - *x) : "-"});
    };
    add("score", r.stored.score, r.replayed.score);
    add("error", r.stored.error, r.replayed.error);
    add("density", r.stored.density, r.replayed.density);
    std::printf("%s", t.render("  ").c_str());
    if (r.comparable) std::printf("  %s\n", r.identical ? "identical: the stored result reproduces exactly" : "DIFFERENT: the stored result does not reproduce");
    else if (!r.own_setting) std::printf("  (another setting than the run's: stored and replayed are not expected to match)\n");
  }
  if (!r.suggested_workload.empty() && replay.workload == r.run_config.workload)
    std::printf("  held-out check: %s replay %s %lld --workload %s\n", adrs_command_name().c_str(), a.run_dir.c_str(),
                static_cast<long long>(r.stored.id), r.suggested_workload.c_str());
}

int run_replay(ReplayArgs& a) {
  ReplayOutcome outcome;
  if (Status s = replay_candidate(a.run_dir, a.id, {a.workload, a.seed, a.target_density}, &outcome); !s.ok()) return fail("replay", s);
  if (a.json) print_replay_json(outcome);
  else print_replay_table(a, outcome);
  if (!outcome.ok) return 1;
  return outcome.comparable && !outcome.identical ? 1 : 0;
}

}  // namespace

CommandRunner add_replay_command(CLI::App& app) {
  auto a = std::make_shared<ReplayArgs>();
  CLI::App* cmd = app.add_subcommand("replay", "Recompile and re-evaluate a stored candidate; compare with the stored metrics");
  add_run_argument(cmd, &a->run_dir);
  cmd->add_option("id", a->id, "Candidate id")->required();
  cmd->add_option("--workload", a->workload, "Score on another workload preset (default: the run's)");
  cmd->add_option("--seed", a->seed, "Evaluation seed (default: the run's seeds)");
  cmd->add_option("--target-density", a->target_density, "Target density (default: the run's)");
  cmd->add_flag("--json", a->json, "Print JSON instead of a table");
  cmd->footer("Exit status: 0 ok; 1 when the replay failed or differs from the stored result on the run's own setting.");
  return [a] { return run_replay(*a); };
}

}  // namespace adrs

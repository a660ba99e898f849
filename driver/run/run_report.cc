#include "driver/run/run_report.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include <fmt/format.h>

#include "driver/run/heldout.h"
#include "driver/run/run_config.h"
#include "driver/run/suite.h"
#include "driver/run/run_session.h"
#include "driver/report/report_data.h"
#include "util/table.h"

namespace adrs {

bool run_is_active(const std::string& run_dir) {
  const int fd = ::open((run_dir + "/lock").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool free = ::flock(fd, LOCK_SH | LOCK_NB) == 0;
  ::close(fd);  // closing drops the probe lock, if we took it
  return !free;
}

std::string explain_stop(const std::string& reason, const std::string& detail, const std::string& run_dir) {
  const std::string resume = adrs_command_name() + " resume " + run_dir;
  if (reason == "max_candidates") return detail + "; to go on: " + resume + " --max-candidates N";
  if (reason == "target_score") return detail + "; to go on: " + resume + " --target-score none";
  if (reason == "patience") return detail + "; to go on: " + resume + " --patience 0";
  if (reason == "max_cost") return detail + "; to go on: " + resume + " --max-cost USD";
  if (reason == "max_wall_s") return detail + "; to go on: " + resume + " --max-wall-s 0";
  if (reason == "proposer_errors") return detail.substr(0, detail.find('\n')) + "; fix the cause, then " + resume;
  if (reason == "interrupted") return "interrupted; " + resume + " redoes the work that was in flight and continues";
  if (reason == "error") return "stopped by a fault: " + detail + "; fix the cause, then " + resume;
  if (reason == "unrecorded") return detail + "; " + resume + " redoes the work that was in flight and continues";
  return detail;
}

namespace {

// The run's identity and what it is scored on.
nlohmann::json run_identity(const RunDb& db, const RunConfig& config, const std::string& run_dir) {
  nlohmann::json j;
  j["run_dir"] = run_dir;
  j["name"] = config.name;
  j["workload"] = config.workload;
  j["target_density"] = config.target_density;
  j["track"] = config.track;
  j["suite"] = nlohmann::json::array();
  for (const Setting& setting : selection_suite(config))
    j["suite"].push_back({{"setting", setting.key()}, {"workload", setting.workload}, {"target_density", setting.target_density},
                          {"weight", setting.weight}});
  j["proposer"] = config.proposer;
  j["adrs_version"] = db.state("adrs_version");
  return j;
}

// status, stop_reason, stop_detail and explanation: "running" only while someone holds the lock.
void add_run_status(const RunDb& db, const std::string& run_dir, bool own_lock, nlohmann::json* j) {
  std::string status = db.state("status", "running");  // created, then ended before its start was recorded
  const bool active = !own_lock && run_is_active(run_dir);
  // "running" with nobody holding the lock: the process ended without recording a stop. That is
  // kill -9 or a crash, or a fault whose stop record could not be written (a failed disk): it is
  // not called "interrupted", since nobody can tell it was.
  if (status == "running" && !active) status = "ended";
  if (active) status = "running";
  (*j)["status"] = status;
  std::string reason = db.state("stop_reason"), detail = db.state("stop_detail");
  if (status == "ended" && reason.empty()) {
    reason = "unrecorded";
    detail = "the process ended without recording a stop (killed, crashed, or its last writes failed: check the disk)";
  }
  (*j)["stop_reason"] = status == "running" ? "" : reason;
  (*j)["stop_detail"] = status == "running" ? "" : detail;
  (*j)["explanation"] = status == "running" ? "running now (pid " + db.state("pid") + ")" : explain_stop(reason, detail, run_dir);
}

// Counts over every candidate, and the best two evaluated ones (the runner-up has another source).
struct CandidateTally {
  std::map<std::string, int64_t> by_status, by_failure;
  int64_t terminal = 0;
  double cost = 0;
  const CandidateRow* best = nullptr;
  const CandidateRow* runner_up = nullptr;
};

CandidateTally tally(const std::vector<CandidateRow>& rows) {
  CandidateTally t;
  for (const CandidateRow& r : rows) {
    ++t.by_status[candidate_status_name(r.status)];
    if (r.terminal()) ++t.terminal;
    if (r.status == CandidateStatus::kFailed || r.status == CandidateStatus::kFiltered) ++t.by_failure[r.failure];
    t.cost += r.cost_usd;
    if (r.status == CandidateStatus::kEvaluated && r.score && (!t.best || *r.score > *t.best->score)) t.best = &r;
  }
  for (const CandidateRow& r : rows)  // the best other source
    if (t.best && r.status == CandidateStatus::kEvaluated && r.score && r.source_hash != t.best->source_hash &&
        (!t.runner_up || *r.score > *t.runner_up->score))
      t.runner_up = &r;
  return t;
}

nlohmann::json candidate_json(const CandidateRow& r) {
  return nlohmann::json{{"id", r.id}, {"generation", r.generation}, {"island", r.island}, {"parent", r.parent_id ? nlohmann::json(*r.parent_id) : nlohmann::json()},
                        {"score", *r.score}, {"error", *r.error}, {"density", *r.density},
                        {"score_std", r.score_std.value_or(0.0)}, {"mutation", r.mutation}, {"message", r.message}};
}

// The best candidate with its per-setting results and, beside a runner-up, whether its lead is
// more than the seed noise of the two.
Status best_json(const RunDb& db, const CandidateTally& t, const RunConfig& config, nlohmann::json* out) {
  nlohmann::json j = candidate_json(*t.best);
  if (t.runner_up) {
    const double best_std = t.best->score_std.value_or(0.0), runner_std = t.runner_up->score_std.value_or(0.0);
    j["lead_over_runner_up"] = *t.best->score - *t.runner_up->score;
    j["noise"] = noise_of(best_std, runner_std);
    j["within_noise_of_runner_up"] =
        !significantly_better(*t.best->score, best_std, *t.runner_up->score, runner_std, config.improvement_margin);
  }
  CandidateRow full;
  if (Status s = db.get_candidate(t.best->id, &full); !s.ok()) return s;
  j["settings"] = nlohmann::json::array();
  for (const SettingResult& r : full.settings)
    j["settings"].push_back({{"setting", r.setting}, {"weight", r.weight}, {"score", r.score}, {"score_std", r.score_std},
                             {"error", r.error}, {"density", r.density},
                             {"access_density", r.access_density ? nlohmann::json(*r.access_density) : nlohmann::json()}});
  *out = std::move(j);
  return Status::Ok();
}

// The commands that look closer at candidate `id`.
nlohmann::json inspect_commands(const std::string& run_dir, int64_t id_number) {
  const std::string adrs = adrs_command_name(), id = std::to_string(id_number);
  return {adrs + " show " + run_dir + " " + id + " --diff", adrs + " lineage " + run_dir + " " + id,
          adrs + " replay " + run_dir + " " + id, adrs + " export " + run_dir + " " + id + " -o best_masker.cpp",
          adrs + " best " + run_dir + " --top 10"};
}

}  // namespace

Status run_summary(const RunDb& db, const std::string& run_dir, nlohmann::json* out, bool own_lock) {
  std::vector<CandidateRow> rows;
  if (Status s = db.list_candidates(&rows, false); !s.ok()) return s;
  RunConfig config;
  if (Status s = stored_config(db, &config); !s.ok()) return s;
  nlohmann::json j = run_identity(db, config, run_dir);
  add_run_status(db, run_dir, own_lock, &j);
  const CandidateTally t = tally(rows);
  const double elapsed = std::strtod(db.state("elapsed_s", "0").c_str(), nullptr);  // never throws on a damaged value
  j["candidates"] = {{"total", rows.size()},
                     {"finished", t.terminal},
                     {"budget", config.max_candidates},
                     {"by_status", t.by_status},
                     {"failures_by_reason", t.by_failure},
                     {"per_minute", elapsed > 0 ? 60.0 * t.terminal / elapsed : 0.0}};
  j["elapsed_s"] = elapsed;
  j["cost_usd"] = t.cost;
  // The agent proposer's drafts: evaluated in the sandbox, never candidates, counted apart.
  int64_t drafts = 0;
  if (Status s = db.count_draft_evaluations(&drafts); !s.ok()) return s;
  j["draft_evaluations"] = drafts;
  j["best"] = nullptr;
  if (t.best)
    if (Status s = best_json(db, t, config, &j["best"]); !s.ok()) return s;
  j["seed"] = !rows.empty() && rows[0].status == CandidateStatus::kEvaluated ? candidate_json(rows[0]) : nlohmann::json();
  j["runner_up"] = t.best && t.runner_up ? candidate_json(*t.runner_up) : nlohmann::json();
  if (Status s = heldout_summary(db, config, &j["heldout"]); !s.ok()) return s;
  if (t.best) j["inspect"] = inspect_commands(run_dir, t.best->id);
  j["report"] = adrs_command_name() + " report " + run_dir;
  j["best_baseline"] = best_scored_baseline(run_dir);
  if (t.best && !j["best_baseline"].is_null())
    j["gap_to_best_baseline"] = *t.best->score - j["best_baseline"]["score"].get<double>();
  *out = j;
  return Status::Ok();
}

void print_run_summary(const nlohmann::json& j) {
  const auto& c = j["candidates"];
  std::printf("run %s: %s, %lld of %lld candidates finished in %.0f s (%.1f per minute)\n", j["run_dir"].get<std::string>().c_str(),
              j["status"].get<std::string>().c_str(), static_cast<long long>(c["finished"].get<int64_t>()),
              static_cast<long long>(c["budget"].get<int64_t>()), j["elapsed_s"].get<double>(), c["per_minute"].get<double>());
  std::printf("  %s\n", j["explanation"].get<std::string>().c_str());
  std::string statuses, failures;
  for (const auto& [k, v] : c["by_status"].items()) statuses += (statuses.empty() ? "" : ", ") + k + " " + std::to_string(v.get<int64_t>());
  for (const auto& [k, v] : c["failures_by_reason"].items()) failures += (failures.empty() ? "" : ", ") + k + " " + std::to_string(v.get<int64_t>());
  std::printf("  candidates: %s\n", statuses.c_str());
  if (!failures.empty()) std::printf("  failed or filtered by reason: %s\n", failures.c_str());
  if (j["cost_usd"].get<double>() > 0) std::printf("  proposer cost: $%.4f\n", j["cost_usd"].get<double>());
  if (j.value("draft_evaluations", int64_t{0}) > 0)
    std::printf("  agent draft evaluations (not candidates): %lld\n", static_cast<long long>(j["draft_evaluations"].get<int64_t>()));
  if (j["best"].is_null()) {
    std::printf("\nno candidate evaluated successfully yet\n");
    return;
  }
  Table table({"", "id", "generation", "island", "score", "error", "density"});
  auto add = [&](const char* label, const nlohmann::json& b) {
    if (b.is_null()) return;
    table.add_row({label, std::to_string(b["id"].get<int64_t>()), std::to_string(b["generation"].get<int>()),
                   std::to_string(b["island"].get<int>()), fmt::format("{:.6f}", b["score"].get<double>()),
                   fmt::format("{:.6f}", b["error"].get<double>()), fmt::format("{:.4f}", b["density"].get<double>())});
  };
  add("seed", j["seed"]);
  add("best", j["best"]);
  add("runner-up", j["runner_up"]);
  std::printf("\n%s\n", table.render("  ").c_str());
  std::string suite;
  for (const auto& setting : j["suite"])
    suite += (suite.empty() ? "" : ", ") + setting["setting"].get<std::string>() + fmt::format(" (weight {:g})", setting["weight"].get<double>());
  std::printf("%s track; %s %s\n", j["track"].get<std::string>().c_str(), j["suite"].size() > 1 ? "suite" : "setting", suite.c_str());
  if (j["best"].value("within_noise_of_runner_up", false))
    std::printf("the best is within noise of the runner-up: it leads by %.3g, the seed noise of the two is %.3g (more eval_seeds tell them apart)\n",
                j["best"]["lead_over_runner_up"].get<double>(), j["best"]["noise"].get<double>());
  if (const nlohmann::json& b = j["best_baseline"]; !b.is_null()) {
    const double gap = j["gap_to_best_baseline"].get<double>();
    std::printf("best baseline at this setting (scored by the last report): %s, score %.6f; the best candidate is %.6f %s\n",
                b["baseline"].get<std::string>().c_str(), b["score"].get<double>(), std::abs(gap), gap >= 0 ? "ahead" : "behind");
  }
  print_heldout_summary(j.value("heldout", nlohmann::json()));
  std::printf("\nthe whole run at a glance, beside the baselines: %s\n", j["report"].get<std::string>().c_str());
  std::printf("\ninspect the best candidate:\n");
  for (const auto& line : j["inspect"]) std::printf("  %s\n", line.get<std::string>().c_str());
}

}  // namespace adrs

#include "driver/run/heldout.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

#include <fmt/format.h>

#include "driver/run/suite.h"
#include "driver/run/suite_eval.h"
#include "evaluator/baselines.h"
#include "util/table.h"

namespace adrs {

namespace {

// The run's top K by selection score (ties: the earlier id), one per normalized source.
Status top_candidates(const RunDb& db, int k, std::vector<CandidateRow>* out) {
  std::vector<CandidateRow> rows;
  if (Status s = db.list_candidates(&rows, false); !s.ok()) return s;
  std::vector<CandidateRow> ranked;
  for (CandidateRow& r : rows)
    if (r.status == CandidateStatus::kEvaluated && r.score) ranked.push_back(std::move(r));
  std::stable_sort(ranked.begin(), ranked.end(), [](const CandidateRow& a, const CandidateRow& b) { return *a.score > *b.score; });
  std::set<std::string> sources;
  out->clear();
  for (CandidateRow& r : ranked) {
    if (static_cast<int>(out->size()) >= k) break;
    if (sources.insert(r.source_hash).second) out->push_back(std::move(r));
  }
  return Status::Ok();
}

SettingResult heldout_result(const Setting& setting, const std::string& track, const EvalResult& r) {
  SettingResult out;
  out.kind = "heldout";
  out.setting = setting.key();
  out.workload = setting.workload;
  out.target_density = setting.target_density;
  out.weight = 0;
  out.track = track;
  out.status = status_name(r.status);
  if (r.ok()) {
    out.score = r.metrics.score;
    out.error = r.metrics.error;
    out.density = r.metrics.density;
    out.access_density = r.metrics.access_density;
    const ScoreInterval ci = bootstrap_score_interval(r.metrics);
    out.ci_low = ci.low;
    out.ci_high = ci.high;
    nlohmann::json j = metrics_to_json(r.metrics);
    j["calls"] = r.metrics.call_errors.size();
    out.metrics_json = j.dump();
  } else {
    out.metrics_json = nlohmann::json{{"message", r.message.substr(0, 2000)}}.dump();
  }
  return out;
}

Status make_heldout_evaluator(const RunConfig& config, const std::map<std::string, uint64_t>& seeds, const Setting& setting,
                              const HeldoutOptions& options, std::unique_ptr<Evaluator>* out) {
  EvalOptions e = run_eval_options(config, options.cache_dir);
  e.workload = setting.workload;
  e.target_density = setting.target_density;
  e.seed = config.eval_seed;
  if (auto it = seeds.find(setting.workload); it != seeds.end()) e.workload_seed = it->second;
  if (Status s = Evaluator::Create(e, out); !s.ok()) return Status::Error("held-out setting " + setting.key() + ": " + s.message());
  return Status::Ok();
}

// A harness fault or a cancel stops the phase (resume redoes it); the candidate's own failure is
// its held-out result.
Status check_outcome(const EvalResult& r, const std::string& what, const HeldoutOptions& options) {
  if (r.status == EvalStatus::kCancelled || (options.cancel && options.cancel->load()))
    return Status::Error("held-out evaluation interrupted; adrs resume finishes it");
  if (r.status == EvalStatus::kInternalError) return Status::Error(what + ": " + r.message);
  return Status::Ok();
}

Status score_setting_baselines(const RunConfig& config, RunDb& db, const Setting& setting, Evaluator& evaluator,
                               const HeldoutOptions& options) {
  std::vector<BaselineSettingResult> stored;
  if (Status s = db.list_heldout_baselines(&stored); !s.ok()) return s;
  std::set<std::string> done;
  for (const BaselineSettingResult& b : stored)
    if (b.setting == setting.key()) done.insert(b.baseline);
  std::vector<Baseline> baselines;
  const std::string dir = options.baselines_dir.empty() ? default_baselines_dir() : options.baselines_dir;
  if (Status s = load_baselines(dir, {}, &baselines); !s.ok()) return s;
  for (const Baseline& b : baselines) {
    if (done.count(b.name)) continue;
    if (options.progress) std::fprintf(stderr, "held-out %s: baseline %s\n", setting.key().c_str(), b.name.c_str());
    const EvalResult r = evaluator.evaluate_source(b.source, options.cancel);
    if (Status s = check_outcome(r, "baseline " + b.name + " on " + setting.key(), options); !s.ok()) return s;
    const SettingResult h = heldout_result(setting, "oracle", r);
    BaselineSettingResult out{setting.key(), b.name, baseline_track(b), h.status, r.ok() ? "" : r.message.substr(0, 500), {}, {}, {}, {}, {}};
    if (r.ok()) {
      out.score = h.score;
      out.error = h.error;
      out.density = h.density;
      out.ci_low = h.ci_low;
      out.ci_high = h.ci_high;
    }
    if (Status s = db.store_heldout_baseline(out); !s.ok()) return s;
  }
  (void)config;
  return Status::Ok();
}

}  // namespace

Status heldout_seeds(RunDb& db, const RunConfig& config, std::map<std::string, uint64_t>* seeds) {
  const nlohmann::json stored = nlohmann::json::parse(db.state(kHeldoutSeedsState, "{}"), nullptr, false);
  seeds->clear();
  if (stored.is_object())
    for (const auto& [workload, seed] : stored.items())
      if (seed.is_number_unsigned()) (*seeds)[workload] = seed.get<uint64_t>();
  bool drew = false;
  for (const auto& [workload, seed] : draw_heldout_seeds(heldout_settings(config)))
    if (!seeds->count(workload)) {
      (*seeds)[workload] = seed;
      drew = true;
    }
  if (!drew) return Status::Ok();
  return db.set_state(kHeldoutSeedsState, nlohmann::json(*seeds).dump());
}

Status run_heldout(const RunConfig& config, RunDb& db, const HeldoutOptions& options) {
  const std::vector<Setting> settings = heldout_settings(config);
  if (settings.empty()) return Status::Ok();
  std::map<std::string, uint64_t> seeds;
  if (Status s = heldout_seeds(db, config, &seeds); !s.ok()) return s;
  std::vector<CandidateRow> top;
  if (Status s = top_candidates(db, config.heldout_top_k, &top); !s.ok()) return s;
  std::map<int64_t, std::vector<SettingResult>> stored;
  if (Status s = db.list_setting_results("heldout", &stored); !s.ok()) return s;
  for (const Setting& setting : settings) {
    std::unique_ptr<Evaluator> evaluator;
    if (Status s = make_heldout_evaluator(config, seeds, setting, options, &evaluator); !s.ok()) return s;
    for (const CandidateRow& c : top) {
      const auto& mine = stored[c.id];
      if (std::any_of(mine.begin(), mine.end(), [&](const SettingResult& r) { return r.setting == setting.key(); })) continue;
      CandidateRow full;
      if (Status s = db.get_candidate(c.id, &full); !s.ok()) return s;
      if (options.progress) std::fprintf(stderr, "held-out %s: candidate #%lld\n", setting.key().c_str(), static_cast<long long>(c.id));
      const EvalResult r = evaluator->evaluate_source(full.source, options.cancel);
      if (Status s = check_outcome(r, "candidate " + std::to_string(c.id) + " on " + setting.key(), options); !s.ok()) return s;
      if (Status s = db.store_heldout(c.id, heldout_result(setting, config.track, r)); !s.ok()) return s;
    }
    if (Status s = score_setting_baselines(config, db, setting, *evaluator, options); !s.ok()) return s;
  }
  return Status::Ok();
}

}  // namespace adrs

namespace adrs {

namespace {

nlohmann::json opt_json(const std::optional<double>& v) { return v ? nlohmann::json(*v) : nlohmann::json(); }

nlohmann::json best_baseline_json(const std::vector<BaselineSettingResult>& baselines, const std::string& setting,
                                  const std::string& track) {
  const BaselineSettingResult* best = nullptr;
  for (const BaselineSettingResult& b : baselines) {
    if (b.setting != setting || b.status != "ok" || !b.score) continue;
    if (!track.empty() && b.track != track) continue;
    if (!best || *b.score > *best->score) best = &b;
  }
  if (!best) return nullptr;
  return {{"baseline", best->baseline}, {"track", best->track}, {"score", *best->score}, {"error", opt_json(best->error)},
          {"density", opt_json(best->density)}, {"ci_low", opt_json(best->ci_low)}, {"ci_high", opt_json(best->ci_high)}};
}

}  // namespace

Status heldout_summary(const RunDb& db, const RunConfig& config, nlohmann::json* out) {
  const std::vector<Setting> settings = heldout_settings(config);
  if (settings.empty()) {
    *out = nullptr;
    return Status::Ok();
  }
  std::vector<CandidateRow> top;
  if (Status s = top_candidates(db, config.heldout_top_k, &top); !s.ok()) return s;
  std::map<int64_t, std::vector<SettingResult>> stored;
  if (Status s = db.list_setting_results("heldout", &stored); !s.ok()) return s;
  std::vector<BaselineSettingResult> baselines;
  if (Status s = db.list_heldout_baselines(&baselines); !s.ok()) return s;
  const nlohmann::json seeds = nlohmann::json::parse(db.state(kHeldoutSeedsState, "{}"), nullptr, false);
  nlohmann::json j = {{"track", config.track}, {"top_k", config.heldout_top_k}, {"interval", "95% bootstrap over layer calls"}};
  bool complete = true;
  j["settings"] = nlohmann::json::array();
  for (const Setting& s : settings) {
    nlohmann::json e = {{"setting", s.key()}, {"workload", s.workload}, {"target_density", s.target_density}};
    e["twin_seed"] = seeds.is_object() && seeds.contains(s.workload) ? seeds[s.workload] : nlohmann::json();
    e["best_baseline"] = best_baseline_json(baselines, s.key(), "");
    if (config.track == "blind") e["best_blind_baseline"] = best_baseline_json(baselines, s.key(), "blind");
    complete = complete && std::any_of(baselines.begin(), baselines.end(), [&](const BaselineSettingResult& b) { return b.setting == s.key(); });
    j["settings"].push_back(e);
  }
  j["candidates"] = nlohmann::json::array();
  for (const CandidateRow& c : top) {
    nlohmann::json e = {{"id", c.id}, {"selection_score", *c.score}, {"selection_score_std", opt_json(c.score_std)}};
    e["heldout"] = nlohmann::json::object();
    for (const Setting& s : settings) {
      const SettingResult* found = nullptr;
      for (const SettingResult& r : stored[c.id])
        if (r.setting == s.key()) found = &r;
      if (!found) {
        complete = false;
        continue;
      }
      nlohmann::json h = {{"status", found->status}};
      if (found->status == "ok")
        h.update({{"score", found->score}, {"error", found->error}, {"density", found->density}, {"ci_low", opt_json(found->ci_low)},
                  {"ci_high", opt_json(found->ci_high)}, {"access_density", opt_json(found->access_density)}});
      e["heldout"][s.key()] = h;
    }
    j["candidates"].push_back(e);
  }
  j["complete"] = complete;
  *out = j;
  return Status::Ok();
}

void print_heldout_summary(const nlohmann::json& h) {
  if (h.is_null()) return;
  std::printf("\nheld-out (%s track; never used for selection; %s)%s\n", h["track"].get<std::string>().c_str(),
              h["interval"].get<std::string>().c_str(), h["complete"].get<bool>() ? "" : ": INCOMPLETE (adrs resume finishes it)");
  for (const auto& s : h["settings"]) {
    const std::string key = s["setting"].get<std::string>();
    std::string head = "  " + key + (s["twin_seed"].is_null() ? " (trace)" : " (held-out twin, seed " + s["twin_seed"].dump() + ")");
    std::printf("%s\n", head.c_str());
    Table t({"candidate", "selection score", "held-out score", "95% interval", "error", "density"});
    for (const auto& c : h["candidates"]) {
      const nlohmann::json r = c["heldout"].value(key, nlohmann::json());
      const bool ok = r.is_object() && r.value("status", "") == "ok";
      t.add_row({"#" + std::to_string(c["id"].get<int64_t>()), fmt::format("{:.6f}", c["selection_score"].get<double>()),
                 ok ? fmt::format("{:.6f}", r["score"].get<double>()) : r.is_object() ? r.value("status", "") : "(pending)",
                 ok && !r["ci_low"].is_null() ? fmt::format("[{:.4f}, {:.4f}]", r["ci_low"].get<double>(), r["ci_high"].get<double>()) : "-",
                 ok ? fmt::format("{:.4f}", r["error"].get<double>()) : "-", ok ? fmt::format("{:.4f}", r["density"].get<double>()) : "-"});
    }
    for (const char* which : {"best_baseline", "best_blind_baseline"}) {
      const nlohmann::json b = s.value(which, nlohmann::json());
      if (b.is_null()) continue;
      t.add_row({b["baseline"].get<std::string>() + " (best " + b["track"].get<std::string>() + " baseline)", "-",
                 fmt::format("{:.6f}", b["score"].get<double>()),
                 b["ci_low"].is_null() ? "-" : fmt::format("[{:.4f}, {:.4f}]", b["ci_low"].get<double>(), b["ci_high"].get<double>()),
                 b["error"].is_null() ? "-" : fmt::format("{:.4f}", b["error"].get<double>()),
                 b["density"].is_null() ? "-" : fmt::format("{:.4f}", b["density"].get<double>())});
    }
    std::printf("%s", t.render("    ").c_str());
  }
}

}  // namespace adrs

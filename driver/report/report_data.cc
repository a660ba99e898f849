#include "driver/report/report_data.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>

#include "evaluator/baselines.h"
#include "driver/run/candidate_step.h"
#include "driver/run/run_config.h"
#include "driver/run/run_hints.h"
#include "driver/run/run_report.h"
#include "driver/run/run_session.h"
#include "driver/patch/text_diff.h"
#include "util/hash.h"

namespace adrs {

namespace {

namespace fs = std::filesystem;

// A diff longer than this is cut (the page shows where): a rewrite of a long masker stays readable
// and a run of thousands of candidates still gives a page a browser opens quickly.
constexpr size_t kMaxDiffBytes = 24 * 1024;

nlohmann::json optional_json(const std::optional<double>& v) {
  return v && std::isfinite(*v) ? nlohmann::json(*v) : nlohmann::json();
}

nlohmann::json candidate_json(const CandidateRow& r, const std::map<int64_t, const CandidateRow*>& by_id,
                              const std::map<int64_t, std::string>& model_of) {
  auto id_json = [](const std::optional<int64_t>& v) { return v ? nlohmann::json(*v) : nlohmann::json(); };
  nlohmann::json j = {{"id", r.id}, {"parent", id_json(r.parent_id)}, {"second_parent", id_json(r.second_parent_id)},
                      {"duplicate_of", id_json(r.duplicate_of)}, {"island", r.island}, {"generation", r.generation},
                      {"mutation", r.mutation}, {"status", candidate_status_name(r.status)}, {"failure", r.failure}, {"message", r.message},
                      {"score", optional_json(r.score)}, {"error", optional_json(r.error)},
                      {"density", optional_json(r.density)}, {"score_std", optional_json(r.score_std)},
                      {"cost_usd", r.cost_usd}, {"tokens_in", r.tokens_in}, {"tokens_out", r.tokens_out},
                      {"created_at", r.created_at}, {"finished_at", r.finished_at}};
  auto model = model_of.find(r.id);
  j["model"] = model == model_of.end() ? "" : model->second;
  const RunHint hint = hint_of_request(r.request_json);  // the researcher's note its prompt carried
  j["hint"] = hint.number > 0 ? "#" + std::to_string(hint.number) + ": " + hint.text : "";
  const CandidateRow* parent = nullptr;
  if (r.parent_id) {
    auto it = by_id.find(*r.parent_id);
    if (it != by_id.end()) parent = it->second;
  }
  j["improved"] = parent && r.status == CandidateStatus::kEvaluated && r.score && parent->score && *r.score > *parent->score;
  if (parent && !r.source.empty()) {
    std::string diff = line_diff(parent->source, r.source);
    if (diff.size() > kMaxDiffBytes) diff = diff.substr(0, kMaxDiffBytes) + "\n... (diff cut at 24 KiB; adrs show --diff has all of it)\n";
    j["diff"] = diff;
  } else {
    j["diff"] = "";
  }
  return j;
}

nlohmann::json llm_usage(const std::vector<LlmCallRecord>& calls, const nlohmann::json& candidates) {
  struct Usage {
    int64_t calls = 0, ok = 0, tokens_in = 0, tokens_out = 0, candidates = 0, improvements = 0;
    double cost = 0, latency = 0;
  };
  std::map<std::string, Usage> by_model;
  for (const LlmCallRecord& c : calls) {
    Usage& u = by_model[c.model];
    ++u.calls;
    u.ok += c.status == "ok";
    u.tokens_in += c.tokens_in;
    u.tokens_out += c.tokens_out;
    u.cost += c.cost_usd;
    u.latency += c.latency_s;
  }
  for (const nlohmann::json& c : candidates) {
    const std::string model = c["model"];
    if (model.empty()) continue;
    Usage& u = by_model[model];
    ++u.candidates;
    u.improvements += c["improved"].get<bool>();
  }
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [model, u] : by_model)
    out.push_back({{"model", model}, {"calls", u.calls}, {"ok_calls", u.ok}, {"tokens_in", u.tokens_in},
                   {"tokens_out", u.tokens_out}, {"cost_usd", u.cost},
                   {"mean_latency_s", u.calls ? u.latency / static_cast<double>(u.calls) : 0.0},
                   {"candidates", u.candidates}, {"improvements", u.improvements},
                   {"improvements_per_usd", u.cost > 0 ? nlohmann::json(u.improvements / u.cost) : nlohmann::json()}});
  return out;
}

// What the cached baseline scores are valid for: the setting and the exact baseline sources.
std::string baseline_cache_key(const RunConfig& config, const std::vector<Baseline>& baselines) {
  std::string text = config.workload + "|" + std::to_string(config.target_density) + "|" +
                     std::to_string(config.eval_seed) + "|" + config.device + "|" + config.suite + "|" + config.track;
  for (const Baseline& b : baselines) text += "|" + b.name + ":" + std::to_string(hash64(b.source));
  return std::to_string(hash64(text));
}

// The cached results; any key when `key` is empty. Null when absent or damaged.
nlohmann::json read_cached_baselines(const std::string& path, const std::string& key) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return nullptr;
  nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("results") || !j["results"].is_array()) return nullptr;
  if (!key.empty() && j.value("key", "") != key) return nullptr;
  return j["results"];
}

// The cache is an optimization: on read-only storage the scores are simply computed again.
void write_cached_baselines(const std::string& path, const std::string& key, const nlohmann::json& results) {
  const std::string temp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(temp, std::ios::binary);
    out << nlohmann::json{{"key", key}, {"results", results}}.dump();
    if (!out.flush()) {
      std::error_code ignored;
      fs::remove(temp, ignored);
      return;
    }
  }
  std::error_code error;
  fs::rename(temp, path, error);
  if (error) fs::remove(temp, error);
}

nlohmann::json score_run_baselines(const RunConfig& config, const std::string& run_dir, const ReportOptions& options) {
  nlohmann::json section = {{"workload", config.workload}, {"target_density", config.target_density},
                            {"eval_seed", config.eval_seed}, {"results", nlohmann::json::array()}};
  if (!options.baselines) {
    section["note"] = "not scored (--no-baselines)";
    return section;
  }
  std::vector<Baseline> baselines;
  const std::string dir = options.baselines_dir.empty() ? default_baselines_dir() : options.baselines_dir;
  if (Status s = load_baselines(dir, {}, &baselines); !s.ok()) {
    section["note"] = "not scored: " + s.message();
    return section;
  }
  section["track"] = config.track;
  if (config.track == "blind") {  // oracle baselines read what the blind track withholds
    std::vector<Baseline> blind;
    std::string refused;
    for (Baseline& b : baselines) {
      if (baseline_track(b) == "blind") blind.push_back(std::move(b));
      else refused += (refused.empty() ? "" : ", ") + b.name;
    }
    baselines = std::move(blind);
    if (!refused.empty()) section["note"] = "oracle baselines refused on the blind track: " + refused;
  }
  const std::string cache_path = run_dir + "/report_baselines.json";
  const std::string key = baseline_cache_key(config, baselines);
  if (nlohmann::json cached = read_cached_baselines(cache_path, key); !cached.is_null()) {
    section["results"] = cached;
    return section;
  }
  RunEvaluators evaluators;
  RunConfig first_seed = config;
  first_seed.eval_seeds = 1;
  first_seed.cascade = false;
  const std::string cache_dir = config.cache_dir.empty() ? run_dir + "/cache" : config.cache_dir;
  if (Status s = make_run_evaluators(first_seed, cache_dir, &evaluators); !s.ok()) {
    section["note"] = "not scored: " + s.message();
    return section;
  }
  if (options.progress)
    std::fprintf(stderr, "scoring %zu baselines on %s at density %.3g (cached for the next report)\n", baselines.size(),
                 config.workload.c_str(), config.target_density);
  // With a suite: the baselines at the suite's cheapest setting.
  section["workload"] = evaluators.first().options().workload;
  section["target_density"] = evaluators.first().options().target_density;
  BaselineProgress progress{0, baselines.size()};
  for (const BaselineResult& r : score_baselines(evaluators.first(), baselines, options.progress ? &progress : nullptr)) {
    nlohmann::json e = {{"baseline", r.baseline}, {"status", status_name(r.result.status)}};
    const bool ok = r.result.ok();
    e["error"] = ok ? nlohmann::json(r.result.metrics.error) : nlohmann::json();
    e["density"] = ok ? nlohmann::json(r.result.metrics.density) : nlohmann::json();
    e["score"] = ok ? nlohmann::json(r.result.metrics.score) : nlohmann::json();
    if (!ok) e["message"] = r.result.message;
    section["results"].push_back(e);
  }
  write_cached_baselines(cache_path, key, section["results"]);
  return section;
}

// The held-out table of the page: each top candidate's held-out score beside its selection score,
// then the best baseline of each held-out setting.
nlohmann::json heldout_rows(const nlohmann::json& heldout) {
  nlohmann::json rows = nlohmann::json::array();
  if (!heldout.is_object()) return rows;
  for (const auto& c : heldout["candidates"])
    for (const auto& [setting, h] : c["heldout"].items()) {
      if (h.value("status", "") != "ok") continue;
      rows.push_back({{"id", c["id"]}, {"setting", setting}, {"selection_score", c["selection_score"]}, {"score", h["score"]},
                      {"interval", {h["ci_low"], h["ci_high"]}}, {"track", heldout["track"]}});
    }
  for (const auto& s : heldout["settings"])
    if (const auto& b = s["best_baseline"]; b.is_object())
      rows.push_back({{"baseline", b["baseline"]}, {"setting", s["setting"]}, {"selection_score", nullptr}, {"score", b["score"]},
                      {"interval", {b["ci_low"], b["ci_high"]}}, {"track", b["track"]}});
  return rows;
}

std::string csv_field(const nlohmann::json& v) {
  std::string text = v.is_null() ? "" : v.is_string() ? v.get<std::string>() : v.dump();
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

}  // namespace

Status build_report_data(const RunDb& db, const std::string& run_dir, const ReportOptions& options,
                         nlohmann::json* out) {
  nlohmann::json data;
  if (Status s = run_summary(db, run_dir, &data["run"]); !s.ok()) return s;
  RunConfig config;
  if (Status s = stored_config(db, &config); !s.ok()) return s;
  std::vector<CandidateRow> rows;
  if (Status s = db.list_candidates(&rows, true); !s.ok()) return s;
  std::vector<LlmCallRecord> calls;
  if (Status s = db.list_llm_calls(&calls); !s.ok()) return s;
  std::map<int64_t, const CandidateRow*> by_id;
  for (const CandidateRow& r : rows) by_id[r.id] = &r;
  std::map<int64_t, std::string> model_of;  // the model of a candidate's last call
  for (const LlmCallRecord& c : calls) model_of[c.candidate_id] = c.model;
  data["candidates"] = nlohmann::json::array();
  for (const CandidateRow& r : rows) data["candidates"].push_back(candidate_json(r, by_id, model_of));
  data["llm"] = llm_usage(calls, data["candidates"]);
  data["baselines"] = score_run_baselines(config, run_dir, options);
  data["heldout"] = heldout_rows(data["run"].value("heldout", nlohmann::json()));
  data["generated_at"] = utc_now();
  *out = std::move(data);
  return Status::Ok();
}

nlohmann::json best_scored_baseline(const std::string& run_dir) {
  nlohmann::json best;
  for (const nlohmann::json& r : read_cached_baselines(run_dir + "/report_baselines.json", "")) {
    if (!r.is_object() || r.value("status", "") != "ok" || !r["score"].is_number()) continue;
    if (best.is_null() || r["score"].get<double>() > best["score"].get<double>())
      best = {{"baseline", r.value("baseline", "")}, {"score", r["score"]}, {"error", r["error"]}, {"density", r["density"]}};
  }
  return best;
}

std::string candidates_csv(const nlohmann::json& report_data) {
  static const char* const kColumns[] = {"id", "parent", "second_parent", "duplicate_of", "island", "generation",
                                         "mutation", "model", "status", "failure", "score", "error", "density",
                                         "score_std", "improved", "cost_usd", "tokens_in", "tokens_out",
                                         "created_at", "finished_at", "message"};
  std::string csv;
  for (const char* column : kColumns) csv += std::string(csv.empty() ? "" : ",") + column;
  csv += "\n";
  for (const nlohmann::json& c : report_data["candidates"]) {
    std::string line;
    for (const char* column : kColumns) line += std::string(line.empty() ? "" : ",") + csv_field(c[column]);
    csv += line + "\n";
  }
  return csv;
}

}  // namespace adrs

#include "evaluator/baselines.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "util/file.h"
#include "util/table.h"
#include "util/resources.h"

namespace adrs {

namespace {

namespace fs = std::filesystem;

// The order tables list them: score-free methods first (positional, sampling, then the
// approximate indexers of the published leaderboard), then the oracle family (exact scores), with
// the oracle importance sampler (an upper line of the sampling family) last.
const char* const kBaselineOrder[] = {"sink_local",      "uniform_sampling", "quest",       "double_sparsity",
                                      "pqcache",         "magicpig",         "sink_local_topk", "oracle_topk",
                                      "oracle_topp",     "vattention",       "vattention_per_row", "oracle_sampling"};

int rank(const std::string& name) {
  const auto* it = std::find(std::begin(kBaselineOrder), std::end(kBaselineOrder), name);
  return static_cast<int>(it - std::begin(kBaselineOrder));
}

}  // namespace

std::string default_baselines_dir() { return data_dir() + "/masker_template/baselines"; }

Status load_baselines(const std::string& dir, const std::vector<std::string>& only, std::vector<Baseline>* out) {
  std::error_code error;
  if (!fs::is_directory(dir, error))
    return Status::Error("no baselines folder '" + dir + "'; pass --baselines DIR (masker_template/baselines)");
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir, error))
    if (entry.path().extension() == ".cpp") names.push_back(entry.path().stem().string());
  std::sort(names.begin(), names.end(), [](const std::string& a, const std::string& b) {
    return rank(a) != rank(b) ? rank(a) < rank(b) : a < b;
  });
  for (const std::string& want : only)
    if (std::find(names.begin(), names.end(), want) == names.end())
      return Status::Error("--only: no baseline '" + want + "' in " + dir);
  for (const std::string& name : names) {
    if (!only.empty() && std::find(only.begin(), only.end(), name) == only.end()) continue;
    std::string text;
    if (!read_file(dir + "/" + name + ".cpp", &text).ok()) return Status::Error("cannot read " + dir + "/" + name + ".cpp");
    out->push_back({name, std::move(text)});
  }
  if (out->empty()) return Status::Error("no baseline .cpp files in " + dir);
  return Status::Ok();
}

std::vector<BaselineResult> score_baselines(Evaluator& evaluator, const std::vector<Baseline>& baselines,
                                            BaselineProgress* progress) {
  std::vector<BaselineResult> results;
  const double target = evaluator.options().target_density;
  for (const Baseline& b : baselines) {
    const auto start = std::chrono::steady_clock::now();
    BaselineResult r{b.name, target, evaluator.evaluate_source(b.source)};
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (progress)
      std::fprintf(stderr, "[%zu/%zu] %-18s @ %.2f  %s  (%.1f s)\n", ++progress->done, progress->total, b.name.c_str(), target,
                   r.result.ok() ? fmt::format("error {:.4f}  density {:.4f}", r.result.metrics.error, r.result.metrics.density).c_str()
                                 : status_name(r.result.status),
                   seconds);
    results.push_back(std::move(r));
  }
  return results;
}

std::string baseline_track(const Baseline& baseline) {
  const bool raw = baseline.source.find("row.scores") != std::string::npos || baseline.source.find("row.keys") != std::string::npos;
  return raw ? "oracle" : "blind";
}

}  // namespace adrs

// adrs leaderboard: the error and density of every baseline masker (masker_template/baselines)
// at every target density, on one workload. Each baseline runs through the normal evaluator:
// compiled, run in the sandboxed worker, validated and scored; one Evaluator per density.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "driver/commands.h"
#include "driver/table.h"
#include "evaluator/evaluator.h"

namespace adrs {

namespace {

namespace fs = std::filesystem;

// The order the table lists them: score-free methods first (positional, sampling, then the
// approximate indexers of the published leaderboard), then the oracle family (exact scores), with
// the oracle importance sampler (an upper line of the sampling family) last.
const char* const kBaselineOrder[] = {"sink_local",      "uniform_sampling", "quest",       "double_sparsity",
                                      "pqcache",         "magicpig",         "sink_local_topk", "oracle_topk",
                                      "oracle_topp",     "vattention",       "vattention_per_row", "oracle_sampling"};

struct LeaderboardArgs {
  EvalOptions options;
  std::string densities = "0.02,0.05,0.1,0.2";
  std::string baselines_dir = std::string(ADRS_SOURCE_DIR) + "/masker_template/baselines";
  std::vector<std::string> only;
  bool json = false;
};

struct Baseline {
  std::string name, source;
};

struct Entry {
  std::string baseline;
  double target = 0.0;
  EvalResult result;
};

Status parse_densities(const std::string& text, std::vector<double>* out) {
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    char* end = nullptr;
    const double v = std::strtod(item.c_str(), &end);
    if (item.empty() || *end != '\0' || !(v > 0.0 && v <= 1.0))
      return Status::Error("--densities: '" + item + "' is not a density in (0, 1]; pass e.g. 0.02,0.05,0.1,0.2");
    out->push_back(v);
  }
  if (out->empty()) return Status::Error("--densities is empty; pass e.g. 0.02,0.05,0.1,0.2");
  return Status::Ok();
}

Status load_baselines(const LeaderboardArgs& args, std::vector<Baseline>* out) {
  std::error_code error;
  if (!fs::is_directory(args.baselines_dir, error))
    return Status::Error("no baselines folder '" + args.baselines_dir + "'; pass --baselines DIR (masker_template/baselines)");
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(args.baselines_dir, error))
    if (entry.path().extension() == ".cpp") names.push_back(entry.path().stem().string());
  auto rank = [](const std::string& n) {
    const auto* it = std::find(std::begin(kBaselineOrder), std::end(kBaselineOrder), n);
    return static_cast<int>(it - std::begin(kBaselineOrder));
  };
  std::sort(names.begin(), names.end(), [&](const std::string& a, const std::string& b) {
    return rank(a) != rank(b) ? rank(a) < rank(b) : a < b;
  });
  for (const std::string& want : args.only)
    if (std::find(names.begin(), names.end(), want) == names.end())
      return Status::Error("--only: no baseline '" + want + "' in " + args.baselines_dir);
  for (const std::string& name : names) {
    if (!args.only.empty() && std::find(args.only.begin(), args.only.end(), name) == args.only.end()) continue;
    std::ifstream in(args.baselines_dir + "/" + name + ".cpp", std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    out->push_back({name, text.str()});
  }
  if (out->empty()) return Status::Error("no baseline .cpp files in " + args.baselines_dir);
  return Status::Ok();
}

void print_human(const std::string& workload, const std::vector<double>& densities,
                 const std::vector<Baseline>& baselines, const std::vector<Entry>& entries) {
  std::printf("adrs leaderboard --workload %s\n", workload.c_str());
  std::printf("relative attention-output error (density kept) per target density; lower error is better\n\n");
  std::vector<std::string> headers = {"baseline"};
  for (double d : densities) headers.push_back(format("@ %.2f", d));
  Table table(headers);
  for (const Baseline& b : baselines) {
    std::vector<std::string> cells = {b.name};
    for (double d : densities)
      for (const Entry& e : entries)
        if (e.baseline == b.name && e.target == d)
          cells.push_back(e.result.ok() ? format("%.4f (%.3f)", e.result.metrics.error, e.result.metrics.density)
                                        : std::string(status_name(e.result.status)));
    table.add_row(cells);
  }
  std::printf("%s", table.render("  ").c_str());
  for (const Entry& e : entries)
    if (!e.result.ok())
      std::printf("\n%s @ %.2f: %s: %s\n", e.baseline.c_str(), e.target, status_name(e.result.status), e.result.message.c_str());
}

int run_leaderboard(LeaderboardArgs& args) {
  std::vector<double> densities;
  std::vector<Baseline> baselines;
  if (Status s = parse_densities(args.densities, &densities); !s.ok()) {
    std::fprintf(stderr, "adrs leaderboard: %s\n", s.message().c_str());
    return 2;
  }
  if (Status s = load_baselines(args, &baselines); !s.ok()) {
    std::fprintf(stderr, "adrs leaderboard: %s\n", s.message().c_str());
    return 2;
  }
  std::vector<Entry> entries;
  const size_t total = densities.size() * baselines.size();
  std::string workload_name = args.options.workload;
  for (double density : densities) {
    EvalOptions options = args.options;
    options.target_density = density;
    std::unique_ptr<Evaluator> evaluator;
    if (Status s = Evaluator::Create(options, &evaluator); !s.ok()) {
      std::fprintf(stderr, "adrs leaderboard: %s\n", s.message().c_str());
      return 2;
    }
    workload_name = evaluator->workload().name;
    for (const Baseline& b : baselines) {
      const auto start = std::chrono::steady_clock::now();
      Entry e{b.name, density, evaluator->evaluate_source(b.source)};
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::fprintf(stderr, "[%zu/%zu] %-17s @ %.2f  %s  (%.1f s)\n", entries.size() + 1, total, b.name.c_str(), density,
                   e.result.ok() ? format("error %.4f  density %.4f", e.result.metrics.error, e.result.metrics.density).c_str()
                                 : status_name(e.result.status),
                   seconds);
      entries.push_back(std::move(e));
    }
  }
  bool all_ok = true;
  for (const Entry& e : entries) all_ok = all_ok && e.result.ok();
  if (args.json) {
    nlohmann::json j = {{"workload", workload_name}, {"densities", densities}, {"seed", args.options.seed},
                        {"value_secret", args.options.value_secret ? nlohmann::json(*args.options.value_secret) : nlohmann::json("per-user")}};
    j["results"] = nlohmann::json::array();
    for (const Entry& e : entries) {
      nlohmann::json r = {{"baseline", e.baseline}, {"target_density", e.target}, {"status", status_name(e.result.status)},
                          {"message", e.result.message}};
      if (e.result.ok()) {
        r["error"] = e.result.metrics.error;
        r["density"] = e.result.metrics.density;
        r["density_of_target"] = e.result.metrics.density / e.target;
        r["score"] = e.result.metrics.score;
        r["row_error_p90"] = e.result.metrics.row_error_p90;
      } else {
        r["error"] = r["density"] = r["score"] = nullptr;
      }
      j["results"].push_back(r);
    }
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    print_human(workload_name, densities, baselines, entries);
  }
  return all_ok ? 0 : 1;
}

}  // namespace

CommandRunner add_leaderboard_command(CLI::App& app) {
  auto args = std::make_shared<LeaderboardArgs>();
  args->options.workload = "default";
  CLI::App* cmd = app.add_subcommand("leaderboard", "Error and density of every baseline masker at several target densities");
  std::string names;
  for (const std::string& n : workload_preset_names()) names += (names.empty() ? "" : ", ") + n;
  cmd->add_option("--workload", args->options.workload, "Workload: " + names + ", or a trace .safetensors path")->capture_default_str();
  cmd->add_option("--densities", args->densities, "Comma-separated target densities")->capture_default_str();
  cmd->add_option("--baselines", args->baselines_dir, "Folder of baseline maskers (*.cpp)")->capture_default_str();
  cmd->add_option("--only", args->only, "Run only these baselines (names without .cpp)")->delimiter(',');
  cmd->add_option("--seed", args->options.seed, "Evaluation seed (sampling baselines derive their draws from it)")->capture_default_str();
  cmd->add_option("--timeout", args->options.timeout_s, "Wall-clock seconds one baseline may run")->capture_default_str();
  cmd->add_option("--threads", args->options.threads, "Threads for maskers and the evaluator (0: all cores)")->capture_default_str();
  cmd->add_option("--cache-dir", args->options.cache_dir, "Compile cache (default $ADRS_CACHE_DIR or ~/.cache/adrs)");
  cmd->add_option_function<uint64_t>(
      "--value-secret", [args](const uint64_t& v) { args->options.value_secret = v; },
      "Secret behind the synthetic presets' hidden values (default: the per-user one in the cache dir); "
      "fix it to reproduce numbers on another machine");
  cmd->add_flag("--json", args->json, "Print one JSON object instead of a table");
  cmd->footer("Progress goes to stderr. Exit status: 0 when every baseline evaluated ok, 1 when one failed, 2 on bad usage.");
  return [args] { return run_leaderboard(*args); };
}

}  // namespace adrs

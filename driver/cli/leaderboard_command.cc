// adrs leaderboard: the error and density of every baseline masker (masker_template/baselines)
// at every target density, on one workload. Each baseline runs through the normal evaluator:
// compiled, run in the sandboxed worker, validated and scored; one Evaluator per density.
#include <cstdio>
#include <memory>
#include <sstream>

#include <fmt/format.h>

#include "evaluator/baselines.h"
#include "driver/cli/commands.h"
#include "util/table.h"
#include "evaluator/evaluator.h"

namespace adrs {

namespace {

struct LeaderboardArgs {
  EvalOptions options;
  std::string densities = "0.02,0.05,0.1,0.2";
  std::string baselines_dir = default_baselines_dir();
  std::vector<std::string> only;
  bool json = false;
};

using Entry = BaselineResult;

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

void print_human(const std::string& workload, const std::string& track, const std::vector<double>& densities,
                 const std::vector<Baseline>& baselines, const std::vector<Entry>& entries) {
  std::printf("adrs leaderboard --workload %s --track %s\n", workload.c_str(), track.c_str());
  std::printf("relative attention-output error (density kept) per target density; lower error is better\n\n");
  std::vector<std::string> headers = {"baseline"};
  for (double d : densities) headers.push_back(fmt::format("@ {:.2f}", d));
  Table table(headers);
  for (const Baseline& b : baselines) {
    std::vector<std::string> cells = {b.name};
    for (double d : densities)
      for (const Entry& e : entries)
        if (e.baseline == b.name && e.target_density == d)
          cells.push_back(e.result.ok() ? fmt::format("{:.4f} ({:.3f})", e.result.metrics.error, e.result.metrics.density)
                                        : std::string(status_name(e.result.status)));
    table.add_row(cells);
  }
  std::printf("%s", table.render("  ").c_str());
  for (const Entry& e : entries)
    if (!e.result.ok())
      std::printf("\n%s @ %.2f: %s: %s\n", e.baseline.c_str(), e.target_density, status_name(e.result.status), e.result.message.c_str());
}

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

// A blind leaderboard refuses baselines that read exact scores or raw keys: their numbers would
// not mean what a blind score means. Returns the names of those taken out.
std::vector<std::string> keep_blind_baselines(std::vector<Baseline>* baselines) {
  std::vector<std::string> refused;
  std::vector<Baseline> blind;
  for (Baseline& b : *baselines) (baseline_track(b) == "blind" ? blind.push_back(std::move(b)) : refused.push_back(b.name));
  *baselines = std::move(blind);
  return refused;
}

// Scores every baseline at every density (one Evaluator per density); *workload_name is the
// workload's own name.
Status score_all(const LeaderboardArgs& args, const std::vector<double>& densities, const std::vector<Baseline>& baselines,
                 std::vector<Entry>* entries, std::string* workload_name) {
  *workload_name = args.options.workload;
  BaselineProgress progress{0, densities.size() * baselines.size()};
  for (double density : densities) {
    EvalOptions options = args.options;
    options.target_density = density;
    std::unique_ptr<Evaluator> evaluator;
    if (Status s = Evaluator::Create(options, &evaluator); !s.ok()) return s;
    *workload_name = evaluator->workload().name;
    for (Entry& e : score_baselines(*evaluator, baselines, &progress)) entries->push_back(std::move(e));
  }
  return Status::Ok();
}

nlohmann::json leaderboard_json(const LeaderboardArgs& args, const std::string& workload_name, const std::vector<double>& densities,
                                const std::vector<std::string>& refused, const std::vector<Entry>& entries) {
  nlohmann::json j = {{"workload", workload_name}, {"densities", densities}, {"eval_seed", args.options.seed},
                      {"track", args.options.track}, {"refused_oracle_baselines", refused},
                      {"value_secret", args.options.value_secret ? nlohmann::json(*args.options.value_secret) : nlohmann::json("per-user")}};
  j["results"] = nlohmann::json::array();
  for (const Entry& e : entries) {
    nlohmann::json r = {{"baseline", e.baseline}, {"target_density", e.target_density}, {"status", status_name(e.result.status)},
                        {"track", args.options.track},
                        {"message", e.result.message}};
    if (e.result.ok()) {
      if (e.result.metrics.access_density) r["access_density"] = *e.result.metrics.access_density;
      r["error"] = e.result.metrics.error;
      r["density"] = e.result.metrics.density;
      r["density_of_target"] = e.result.metrics.density / e.target_density;
      r["score"] = e.result.metrics.score;
      r["row_error"] = {{"p50", e.result.metrics.row_error_p50}, {"p90", e.result.metrics.row_error_p90},
                        {"max", e.result.metrics.row_error_max}};
    } else {
      r["error"] = r["density"] = r["score"] = nullptr;
    }
    j["results"].push_back(r);
  }
  return j;
}

int run_leaderboard(LeaderboardArgs& args) {
  std::vector<double> densities;
  std::vector<Baseline> baselines;
  if (Status s = parse_densities(args.densities, &densities); !s.ok()) {
    std::fprintf(stderr, "adrs leaderboard: %s\n", s.message().c_str());
    return 2;
  }
  if (Status s = load_baselines(args.baselines_dir, args.only, &baselines); !s.ok()) {
    std::fprintf(stderr, "adrs leaderboard: %s\n", s.message().c_str());
    return 2;
  }
  const std::vector<std::string> refused = args.options.track == "blind" ? keep_blind_baselines(&baselines) : std::vector<std::string>();
  if (!args.only.empty() && !refused.empty()) {
    std::fprintf(stderr, "adrs leaderboard: %s read exact scores or raw keys (oracle baselines); the blind track refuses them. "
                         "Use --track oracle, or baselines that read keys through Row's counted readers\n", joined(refused).c_str());
    return 2;
  }
  std::vector<Entry> entries;
  std::string workload_name;
  if (Status s = score_all(args, densities, baselines, &entries, &workload_name); !s.ok()) {
    std::fprintf(stderr, "adrs leaderboard: %s\n", s.message().c_str());
    return 2;
  }
  bool all_ok = true;
  for (const Entry& e : entries) all_ok = all_ok && e.result.ok();
  if (args.json) {
    std::printf("%s\n", leaderboard_json(args, workload_name, densities, refused, entries).dump(2).c_str());
  } else {
    print_human(workload_name, args.options.track, densities, baselines, entries);
    if (!refused.empty())
      std::printf("\nrefused on the blind track (oracle baselines: they read exact scores or raw keys): %s\n", joined(refused).c_str());
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
  cmd->add_option("--track", args->options.track, "oracle (exact scores visible) or blind (key reads charged; oracle baselines refused)")
      ->check(CLI::IsMember({"oracle", "blind"}))
      ->capture_default_str();
  cmd->add_option("--access-ratio", args->options.access_ratio, "Blind track: penalty on max(density, access density / ratio)")
      ->capture_default_str();
  cmd->add_flag("--json", args->json, "Print one JSON object instead of a table");
  cmd->footer("Progress goes to stderr. Exit status: 0 when every baseline evaluated ok, 1 when one failed, 2 on bad usage.");
  return [args] { return run_leaderboard(*args); };
}

}  // namespace adrs

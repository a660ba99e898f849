// adrs eval FILE: compile one masker, run it in the sandboxed worker, print its metrics.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include <fmt/format.h>

#include "driver/cli/commands.h"
#include "evaluator/compiler.h"
#include "evaluator/evaluator.h"
#include "util/file.h"
#include "util/interrupt.h"
#include "util/table.h"

namespace adrs {

namespace {

struct EvalArgs {
  std::string file;
  EvalOptions options;
  std::string device = "auto";
  bool json = false;
};

std::string describe_shape(const Workload& w) {
  int32_t min_n = w.calls.empty() ? 0 : w.calls[0].num_keys, max_n = min_n;
  for (const CallInfo& c : w.calls) {
    min_n = std::min(min_n, c.num_keys);
    max_n = std::max(max_n, c.num_keys);
  }
  return fmt::format("{} rows: {} layers, {} calls, {} query / {} kv heads, d={}, n {}..{}",
                static_cast<long long>(w.num_rows()), w.layers.size(), w.calls.size(), w.num_q_heads,
                w.num_kv_heads, w.head_dim, min_n, max_n);
}

void print_human(const EvalResult& r, const Evaluator& e, const std::string& file) {
  const EvalOptions& o = e.options();
  std::printf("adrs eval %s\n", file.c_str());
  std::printf("workload %s (%s), device %s, seed %llu\n\n", e.workload().name.c_str(),
              describe_shape(e.workload()).c_str(), e.backend().name().c_str(),
              static_cast<unsigned long long>(o.seed));
  if (!r.ok()) {
    std::printf("  status   %s\n  %s\n", status_name(r.status), r.message.c_str());
    return;
  }
  const Metrics& m = r.metrics;
  Table summary({"metric", "value"});
  summary.add_row({"status", "ok"});
  summary.add_row({"score", fmt::format("{:.6f}", m.score)});
  summary.add_row({"error", fmt::format("{:.6f}", m.error)});
  summary.add_row({"density", fmt::format("{:.4f}", m.density)});
  summary.add_row({"target density", fmt::format("{:.4f}", m.target_density)});
  if (m.access_density) summary.add_row({"access density (key reads / n, blind track)", fmt::format("{:.4f}", *m.access_density)});
  summary.add_row({"penalty", fmt::format("{:.4f}", m.penalty)});
  summary.add_row({"row error p50 / p90 / max", fmt::format("{:.4f} / {:.4f} / {:.4f}", m.row_error_p50, m.row_error_p90, m.row_error_max)});
  summary.add_row({"attention mass kept", fmt::format("{:.4f}", m.attention_mass_kept)});
  summary.add_row({"weight mass (sum w / n)", fmt::format("{:.4f}", m.weight_mass)});
  std::printf("%s\n", summary.render("  ").c_str());
  Table buckets({"entropy", "rows", "mean error", "density"});
  for (const EntropyBucket& b : m.entropy_buckets)
    buckets.add_row({fmt::format("{:.1f}-{:.1f}", b.low, b.high), std::to_string(b.rows),
                     b.rows ? fmt::format("{:.4f}", b.mean_error) : "-", b.rows ? fmt::format("{:.4f}", b.mean_density) : "-"});
  std::printf("  error by normalized entropy of the true attention\n%s\n", buckets.render("  ").c_str());
  std::printf("compile %.2f s%s, worker %.2f s, metrics %.2f s\nsandbox: %s\n", r.compile_s,
              r.compile_cached ? " (cached)" : "", r.worker_s, r.metrics_s, r.sandbox.c_str());
}

int run_eval(EvalArgs& args) {
  namespace fs = std::filesystem;
  std::error_code error;
  if (!fs::is_regular_file(args.file, error)) {
    std::fprintf(stderr, "adrs eval: no masker file '%s'; pass a .cpp file (the starter is masker_template/evolve_masker.cpp)\n",
                 args.file.c_str());
    return 2;
  }
  std::string source;
  if (!read_file(args.file, &source).ok()) {
    std::fprintf(stderr, "adrs eval: cannot read '%s'\n", args.file.c_str());
    return 2;
  }
  args.options.device = args.device == "cpu" ? Device::kCpu : args.device == "cuda" ? Device::kCuda : Device::kAuto;
  std::unique_ptr<Evaluator> evaluator;
  if (Status s = Evaluator::Create(args.options, &evaluator); !s.ok()) {
    std::fprintf(stderr, "adrs eval: %s\n", s.message().c_str());
    return 2;
  }
  install_interrupt_handler("\ninterrupted: stopping (press Ctrl-C again to quit at once)\n");
  EvalResult result = evaluator->evaluate_source(source, interrupt_flag());
  // The compiler saw the source as masker.cpp inside its jail; the user knows it by its own name.
  result.message = name_masker_file(result.message, std::filesystem::path(args.file).filename().string());
  if (args.json) {
    std::printf("%s\n", result_to_json(result, *evaluator).dump(2).c_str());
  } else {
    print_human(result, *evaluator, args.file);
  }
  return result.ok() ? 0 : 1;
}

}  // namespace

CommandRunner add_eval_command(CLI::App& app) {
  auto args = std::make_shared<EvalArgs>();
  CLI::App* cmd = app.add_subcommand("eval", "Compile a masker and score it on a workload");
  std::string workloads;
  for (const std::string& name : workload_preset_names()) workloads += (workloads.empty() ? "" : ", ") + name;
  cmd->add_option("file", args->file, "Masker source (.cpp) defining select(const adrs::Row&, adrs::Selection&)")->required();
  cmd->add_option("--workload", args->options.workload, "Workload preset: " + workloads)->capture_default_str();
  cmd->add_option("--target-density", args->options.target_density,
                  "Target fraction of keys kept; density above it costs 100 x the excess")->capture_default_str();
  cmd->add_option("--seed", args->options.seed, "Evaluation seed (each row's seed derives from it)")->capture_default_str();
  cmd->add_option("--timeout", args->options.timeout_s, "Wall-clock seconds the masker may run before it is killed")->capture_default_str();
  cmd->add_option("--compile-timeout", args->options.compile_timeout_s, "Seconds the compiler may run")->capture_default_str();
  cmd->add_option("--threads", args->options.threads, "Threads for the masker and the evaluator (0: all cores)")->capture_default_str();
  cmd->add_option("--memory-mb", args->options.memory_mb, "Memory limit of the masker worker, MiB")->capture_default_str();
  cmd->add_option("--device", args->device, "Evaluator backend: cpu, cuda or auto (CUDA when a GPU is present)")
      ->check(CLI::IsMember({"cpu", "cuda", "auto"}))->capture_default_str();
  cmd->add_flag("--expose-values", args->options.expose_values, "Let the masker read the values (hidden by default)");
  cmd->add_flag("--hide-scores", args->options.hide_scores, "Withhold the oracle scores from the masker");
  cmd->add_option("--track", args->options.track, "oracle (exact scores and raw keys visible) or blind (key reads counted and charged)")
      ->check(CLI::IsMember({"oracle", "blind"}))
      ->capture_default_str();
  cmd->add_option("--access-ratio", args->options.access_ratio, "Blind track: the penalty applies to max(density, access density / ratio)")
      ->capture_default_str();
  cmd->add_option("--cache-dir", args->options.cache_dir, "Compile cache (default $ADRS_CACHE_DIR or ~/.cache/adrs)");
  cmd->add_flag("--json", args->json, "Print one JSON object instead of tables");
  cmd->footer("Exit status: 0 when the masker evaluated ok, 1 when it failed (status says why), 2 on bad usage.");
  return [args] { return run_eval(*args); };
}

}  // namespace adrs

// adrs workload info NAME: the shape and memory of a workload and the spread over its rows of
// normalized attention entropy, first-key, sink, local and top-10% mass, and the first key's mass
// per layer.
#include <cstdio>
#include <memory>

#include <fmt/format.h>

#include "driver/cli/commands.h"
#include "util/table.h"
#include "evaluator/backend.h"
#include "evaluator/workload_stats.h"

namespace adrs {

namespace {

struct WorkloadArgs {
  std::string name;
  int threads = 0;
  bool json = false;
};

void print_human(const Workload& w, const WorkloadStats& st) {
  std::printf("adrs workload info %s\n\n", w.name.c_str());
  Table shape({"property", "value"});
  shape.add_row({"rows (query heads x calls)", std::to_string(st.rows)});
  shape.add_row({"layers / calls", fmt::format("{} / {}", w.layers.size(), w.calls.size())});
  shape.add_row({"query / kv heads", fmt::format("{} / {}", w.num_q_heads, w.num_kv_heads)});
  shape.add_row({"head dim", std::to_string(w.head_dim)});
  shape.add_row({"keys per row", fmt::format("{}..{}", st.min_keys, st.max_keys)});
  shape.add_row({"logit scale", fmt::format("{:.6g}", w.scale)});
  shape.add_row({"memory (k, v, q as float32)", fmt::format("{:.1f} MiB", st.memory_bytes / (1 << 20))});
  std::printf("%s\n", shape.render("  ").c_str());
  Table spread({"over rows", "mean", "p10", "p50", "p90", "min", "max"});
  auto add = [&](const char* name, const Spread& s) {
    spread.add_row({name, fmt::format("{:.3f}", s.mean), fmt::format("{:.3f}", s.p10), fmt::format("{:.3f}", s.p50), fmt::format("{:.3f}", s.p90),
                    fmt::format("{:.3f}", s.min), fmt::format("{:.3f}", s.max)});
  };
  add("normalized entropy", st.entropy);
  add("first-key mass", st.first_key_mass);
  add(fmt::format("sink mass (first {} keys)", kStatsSinkKeys).c_str(), st.sink_mass);
  add(fmt::format("local mass (newest {} keys)", kStatsLocalKeys).c_str(), st.local_mass);
  add("top-10% mass", st.top10_mass);
  std::printf("%s", spread.render("  ").c_str());
  std::string by_layer;
  for (double m : st.first_key_mass_by_layer) by_layer += (by_layer.empty() ? "" : " ") + fmt::format("{:.2f}", m);
  std::printf("\nmean first-key mass by layer: %s\n", by_layer.c_str());
}

int run_info(const WorkloadArgs& args) {
  Workload w;
  if (Status s = make_workload(args.name, &w); !s.ok()) {
    std::fprintf(stderr, "adrs workload info: %s\n", s.message().c_str());
    return 2;
  }
  const auto backend = make_cpu_backend(w, args.threads);
  const WorkloadStats stats = compute_workload_stats(w, backend->reference());
  if (args.json) {
    std::printf("%s\n", stats_to_json(w, stats).dump(2).c_str());
  } else {
    print_human(w, stats);
  }
  return 0;
}

}  // namespace

CommandRunner add_workload_command(CLI::App& app) {
  auto args = std::make_shared<WorkloadArgs>();
  CLI::App* cmd = app.add_subcommand("workload", "Inspect workloads (synthetic presets and traces)");
  cmd->require_subcommand(1);
  CLI::App* info = cmd->add_subcommand("info", "Shape, memory and the spread of attention entropy, sink and local mass");
  std::string names;
  for (const std::string& n : workload_preset_names()) names += (names.empty() ? "" : ", ") + n;
  info->add_option("name", args->name, "Workload: " + names + ", or a trace .safetensors path")->required();
  info->add_option("--threads", args->threads, "Threads (0: all cores)")->capture_default_str();
  info->add_flag("--json", args->json, "Print one JSON object instead of tables");
  info->footer("Exit status: 0 on success, 2 when the workload cannot be made or read.");
  return [args] { return run_info(*args); };
}

}  // namespace adrs

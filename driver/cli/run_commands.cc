// adrs run --config FILE and adrs resume RUN_DIR: start or continue an evolution run.
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "driver/cli/commands.h"
#include "driver/cli/config_flags.h"
#include "driver/llm/agent_proposer.h"
#include "driver/llm/llm_preflight.h"
#include "driver/llm/llm_proposer.h"
#include "driver/run/run.h"
#include "driver/run/run_hints.h"
#include "driver/run/run_report.h"
#include "driver/run/run_session.h"
#include "driver/run/suite.h"
#include "util/table.h"

namespace adrs {

namespace {

namespace fs = std::filesystem;

struct RunArgs {
  std::string config_path;
  std::string runs_dir = "runs";
  std::string run_dir;  // resume
  bool json = false;
  bool quiet = false;
  bool allow_version_change = false;
  bool force = false;
  std::string hint;  // resume
  std::string max_cost_usd, prompts_dir;  // [llm] keys (run)
  ConfigFlags flags;
};

std::string read_text(const std::string& path, bool* ok) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  *ok = static_cast<bool>(in) || in.eof();
  return buffer.str();
}

std::string timestamp() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y%m%d-%H%M%S", &tm);
  return text;
}

// Colours and the refreshing status line only on a terminal that wants them: not in a pipe or a
// file, not with NO_COLOR set (no-color.org), not on TERM=dumb.
bool terminal_escapes() {
  const char* no_color = std::getenv("NO_COLOR");
  const char* term = std::getenv("TERM");
  return ::isatty(2) && !(no_color && *no_color) && !(term && std::string(term) == "dumb");
}

// --max-cost-usd and --prompts-dir: [llm] keys as flags (a run with an [llm] table only).
Status apply_llm_flags(const RunArgs& args, RunConfig* config) {
  if (args.max_cost_usd.empty() && args.prompts_dir.empty()) return Status::Ok();
  if (!config->llm.is_object() || config->llm.empty())
    return Status::Error("--max-cost-usd and --prompts-dir set [llm] keys, but the config has no [llm] table (see runs/openai.toml)");
  if (!args.max_cost_usd.empty()) {
    char* end = nullptr;
    const double usd = std::strtod(args.max_cost_usd.c_str(), &end);
    if (*end != '\0' || !(usd >= 0) || !std::isfinite(usd)) return Status::Error("--max-cost-usd: '" + args.max_cost_usd + "' is not a number >= 0");
    config->llm["max_cost_usd"] = usd;
  }
  if (!args.prompts_dir.empty()) config->llm["prompts_dir"] = fs::absolute(args.prompts_dir).lexically_normal().string();
  return Status::Ok();
}

// The LLM pre-flight (driver/llm/llm_preflight.h): keys set, every model answers. Warnings are
// printed and the run goes on.
Status check_llm_before_running(const RunConfig& config, const RunArgs& args) {
  std::vector<std::string> warnings;
  Status s = preflight_llm_table(config.llm, &warnings);
  if (!args.quiet)
    for (const std::string& w : warnings) std::fprintf(stderr, "adrs: warning: %s\n", w.c_str());
  return s;
}

// Drives an open, locked run (Run::Drive) and prints its summary. Shared by run and resume.
int drive(const RunArgs& args, const std::string& command, Run& run) {
  // Logs go to stderr, so --json output on stdout stays parseable.
  static const auto logger = spdlog::stderr_color_mt("adrs", terminal_escapes() ? spdlog::color_mode::automatic : spdlog::color_mode::never);
  spdlog::set_default_logger(logger);
  DriveOptions options;
  options.command = command;
  options.interrupt = &install_run_interrupt_handler();
  options.live_status = !args.json && !args.quiet && terminal_escapes();
  options.quiet = args.quiet;
  options.progress = !args.json && !args.quiet;
  LoopResult result;
  if (Status s = run.Drive(options, &result); !s.ok()) {
    std::fprintf(stderr, "adrs %s: %s\n", command.c_str(), s.message().c_str());
    return exit_code(s);
  }
  nlohmann::json summary;
  if (Status s = run.Summary(&summary); !s.ok()) return fail(command, s);
  if (args.json) {
    std::printf("%s\n", summary.dump(2).c_str());
  } else {
    print_run_summary(summary);
  }
  if (result.stop_reason == StopReason::kError || result.stop_reason == StopReason::kProposerErrors) {
    std::fprintf(stderr, "adrs %s: %s\n", command.c_str(), result.stop_detail.c_str());
    return 1;
  }
  return result.stop_reason == StopReason::kInterrupted ? 130 : 0;
}

// The proposer's checks that must pass before the run directory exists (a bad [llm] table, a
// missing key variable). Returns the exit code when one fails, after printing why.
std::optional<int> check_proposer_before_creating(const RunConfig& config, const RunArgs& args) {
  if (config.proposer == "llm") {  // a bad [llm] table must fail before the run directory exists
    std::unique_ptr<Proposer> probe;
    if (Status s = make_llm_proposer(config.llm, nullptr, &probe); !s.ok()) return fail("run", s);
    if (Status s = check_llm_before_running(config, args); !s.ok())
      return fail("run", s.message() + "\nno run was created; fix the cause and run the command again");
  }
  if (config.proposer == "agent") {
    LlmConfig llm;
    AgentConfig agent;
    if (Status s = parse_agent_llm_config(config.llm, &llm, &agent); !s.ok()) return fail("run", s.message());
    // The agent's first turn is its own probe; only the key variables are checked here.
    if (Status s = check_llm_keys(llm); !s.ok())
      return fail("run", s.message() + "\nno run was created; fix the cause and run the command again");
  }
  return std::nullopt;
}

int run_new(RunArgs& args) {
  install_run_interrupt_handler();
  RunConfig config;
  if (!args.config_path.empty())
    if (Status s = load_config_file(args.config_path, &config); !s.ok()) return fail("run", s);
  const bool named = config.name != RunConfig().name;
  const RunConfig from_file = config;
  if (Status s = args.flags.apply(&config); !s.ok()) return fail("run", s);
  if (Status s = apply_llm_flags(args, &config); !s.ok()) return fail("run", s);
  // A flag naming another setting (--workload, --target-density) without --suite makes a run of
  // that one setting: the file's suite and held-out settings (chosen for its suite) are dropped
  // unless --suite / --heldout say otherwise.
  if ((config.workload != from_file.workload || config.target_density != from_file.target_density) && config.suite == from_file.suite) {
    config.suite.clear();
    if (config.heldout == from_file.heldout) config.heldout.clear();
  }
  if (!named && config.name == RunConfig().name)
    config.name = (args.config_path.empty() ? "run" : fs::path(args.config_path).stem().string()) + "-" + timestamp();
  if (Status s = config.validate(); !s.ok()) return fail("run", s);
  if (args.config_path.empty() && !args.json)
    std::fprintf(stderr, "adrs run: no --config given, so the built-in defaults: workload %s, %s proposer, the shipped starter "
                         "masker, %lld candidates, run %s in %s/ (runs/demo.toml is the README's config; Ctrl-C stops, adrs "
                         "resume continues)\n", config.workload.c_str(), config.proposer.c_str(),
                 static_cast<long long>(config.max_candidates), config.name.c_str(), args.runs_dir.c_str());
  bool ok = false;
  const std::string seed_path = seed_masker_path(config);
  const std::string seed_source = read_text(seed_path, &ok);
  if (!ok || seed_source.empty())
    return fail("run", "cannot read the seed masker '" + seed_path + "' (run.seed_masker: a path in a config file is relative to "
                       "the file's folder, one given as --seed-masker to the current directory; leave it out for the shipped starter)");
  EvolveBlock block;
  if (Status s = find_evolve_block(seed_source, &block); !s.ok())
    return fail("run", seed_path + ": " + s.message() + " (the seed needs // EVOLVE-BLOCK-START and // EVOLVE-BLOCK-END lines)");
  if (std::optional<int> failed = check_proposer_before_creating(config, args)) return *failed;
  CreateOptions options;
  options.runs_dir = args.runs_dir;
  options.force = args.force;
  options.interrupt = &install_run_interrupt_handler();
  std::unique_ptr<Run> run;
  if (Status s = Run::Create(config, seed_source, options, &run); !s.ok()) {
    std::fprintf(stderr, "adrs run: %s\n", s.message().c_str());
    if (s.is(StatusCode::kFault) && !fs::exists(args.runs_dir + "/" + config.name) && s.message().find("no run was created") == std::string::npos)
      std::fprintf(stderr, "adrs run: no run was created (there is nothing to resume); run this command again once the cause is fixed\n");
    return exit_code(s);
  }
  return drive(args, "run", *run);
}

int run_resume(RunArgs& args) {
  install_run_interrupt_handler();
  OpenOptions options;
  options.allow_version_change = args.allow_version_change;
  std::unique_ptr<Run> run;
  if (Status s = Run::Open(args.run_dir, options, &run); !s.ok()) return fail("resume", s);
  RunConfig wanted = run->config();
  if (!args.config_path.empty()) {
    wanted = RunConfig();
    if (Status s = load_config_file(args.config_path, &wanted); !s.ok()) return fail("resume", s);
    wanted.name = run->config().name;
  }
  if (Status s = args.flags.apply(&wanted); !s.ok()) return fail("resume", s);
  if (Status s = wanted.validate(); !s.ok()) return fail("resume", s);
  if (wanted.proposer == "llm")
    if (Status s = check_llm_before_running(wanted, args); !s.ok())
      return fail("resume", s.message() + "\nthe run is unchanged; fix the cause and resume again");
  std::string changed;
  if (Status s = run->Reconfigure(wanted, &changed); !s.ok()) return fail("resume", s);
  if (!changed.empty() && !args.json && !args.quiet) spdlog::info("resume with changed limits:{}", changed);
  if (!args.hint.empty()) {
    RunHint hint;
    if (Status s = add_hint(run->db(), args.hint, &hint); !s.ok()) return fail("resume", s.message());
  }
  return drive(args, "resume", *run);
}

void add_common(CLI::App* cmd, RunArgs& args) {
  cmd->add_flag("--json", args.json, "Print one JSON summary instead of tables (logs still go to stderr)");
  cmd->add_flag("--quiet", args.quiet, "No progress lines");
}

}  // namespace

CommandRunner add_run_command(CLI::App& app) {
  auto args = std::make_shared<RunArgs>();
  CLI::App* cmd = app.add_subcommand("run", "Start an evolution run (offline proposer by default; no network needed)");
  cmd->add_option("--config", args->config_path, "Run config (TOML), e.g. runs/demo.toml")->check(CLI::ExistingFile);
  cmd->add_option("--runs-dir", args->runs_dir, "Where runs live: the run goes to <runs-dir>/<name>/")->capture_default_str();
  cmd->add_flag("--force", args->force, "Remove a leftover of a run whose creation did not finish (never a complete run)");
  add_common(cmd, *args);
  args->flags.add_to(cmd);
  cmd->add_option("--max-cost-usd", args->max_cost_usd, "USD the LLM proposer may spend (0: no limit) [llm.max_cost_usd]")
      ->type_name("REAL")->group("Config keys (override the TOML file)");
  cmd->add_option("--prompts-dir", args->prompts_dir, "Prompt templates (default: ./prompts when present, else the shipped ones) [llm.prompts_dir]")
      ->type_name("DIR")->group("Config keys (override the TOML file)");
  cmd->footer("Every config key is also a flag (flags win). Ctrl-C stops cleanly; adrs resume continues.\n"
              "Exit status: 0 when a stop condition ended the run, 1 on a fault, 2 on bad usage, 130 when interrupted.");
  return [args] { return run_new(*args); };
}

CommandRunner add_resume_command(CLI::App& app) {
  auto args = std::make_shared<RunArgs>();
  CLI::App* cmd = app.add_subcommand("resume", "Continue a run after Ctrl-C, a crash or kill -9, or with a larger budget");
  add_run_argument(cmd, &args->run_dir);
  cmd->add_option("--config", args->config_path, "A changed config: only stop conditions and resource limits may differ");
  cmd->add_flag("--allow-version-change", args->allow_version_change, "Continue a run made by another adrs version");
  cmd->add_option("--hint", args->hint, "A note the following LLM prompts carry (as adrs hint RUN \"text\")");
  add_common(cmd, *args);
  args->flags.add_to(cmd, true);
  cmd->footer("Only stop conditions and resource limits can change on resume; the search itself cannot.");
  return [args] { return run_resume(*args); };
}

}  // namespace adrs

// adrs run --config FILE and adrs resume RUN_DIR: start or continue an evolution run.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "driver/commands.h"
#include "driver/llm_proposer.h"
#include "driver/offline_proposer.h"
#include "driver/run_loop.h"
#include "driver/run_report.h"
#include "driver/run_session.h"
#include "driver/table.h"

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

int fail(const std::string& command, const std::string& message) {
  std::fprintf(stderr, "adrs %s: %s\n", command.c_str(), message.c_str());
  return message.find("another adrs process") != std::string::npos ? 3 : 2;
}

// Runs the loop on an open, locked run and reports. Shared by run and resume.
int drive(const std::string& command, const RunArgs& args, const std::string& run_dir, const RunConfig& config, RunDb& db) {
  // Logs go to stderr, so --json output on stdout stays parseable.
  static const auto logger = spdlog::stderr_color_mt("adrs");
  spdlog::set_default_logger(logger);
  RunEvaluators evaluators;
  if (Status s = make_run_evaluators(config, config.cache_dir.empty() ? run_dir + "/cache" : config.cache_dir, &evaluators); !s.ok()) return fail(command, s.message());
  std::unique_ptr<Proposer> proposer;
  if (Status s = make_proposer(config, db, &proposer); !s.ok()) return fail(command, s.message());
  OfflineProposer tuner;
  LoopOptions options;
  options.interrupt = &install_interrupt_handler();
  options.live_status = !args.json && !args.quiet && ::isatty(2);
  options.quiet = args.quiet;
  db.set_states({{"status", "running"}, {"pid", std::to_string(::getpid())}, {"stop_reason", ""}, {"stop_detail", ""}});
  const std::string backend = evaluators.per_seed.front()->backend().name();  // what --device auto chose
  db.add_event(command, "adrs " + std::string(kAdrsVersion) + ", pid " + std::to_string(::getpid()) + ", proposer " +
                            proposer->describe() + ", scored on " + backend);
  if (!args.json && !args.quiet)
    spdlog::info("{} {}: workload {} scored on {}, target density {}, proposer {}, parallel {}, budget {} candidates", command,
                 run_dir, config.workload, backend, config.target_density, proposer->describe(), config.parallel,
                 config.max_candidates);
  const LoopResult result = run_loop(config, db, *proposer, &tuner, evaluators, options);
  const std::string status = result.stop_reason == "interrupted" ? "interrupted" : result.stop_reason == "error" ? "failed" : "stopped";
  db.set_states({{"status", status}, {"stop_reason", result.stop_reason}, {"stop_detail", result.stop_detail}});
  db.add_event("stop", result.stop_reason + ": " + result.stop_detail);
  nlohmann::json summary;
  if (Status s = run_summary(db, run_dir, &summary, true); !s.ok()) return fail(command, s.message());
  if (args.json) {
    std::printf("%s\n", summary.dump(2).c_str());
  } else {
    print_run_summary(summary);
  }
  if (result.stop_reason == "error") {
    std::fprintf(stderr, "adrs %s: %s\n", command.c_str(), result.stop_detail.c_str());
    return 1;
  }
  return result.stop_reason == "interrupted" ? 130 : 0;
}

int run_new(RunArgs& args) {
  install_interrupt_handler();
  RunConfig config;
  if (!args.config_path.empty())
    if (Status s = load_config_file(args.config_path, &config); !s.ok()) return fail("run", s.message());
  const bool named = config.name != RunConfig().name;
  if (Status s = args.flags.apply(&config); !s.ok()) return fail("run", s.message());
  if (!named && config.name == RunConfig().name)
    config.name = (args.config_path.empty() ? "run" : fs::path(args.config_path).stem().string()) + "-" + timestamp();
  if (Status s = config.validate(); !s.ok()) return fail("run", s.message());
  bool ok = false;
  const std::string seed_source = read_text(config.seed_masker, &ok);
  if (!ok || seed_source.empty())
    return fail("run", "cannot read the seed masker '" + config.seed_masker + "' (run.seed_masker; paths are relative to the current directory)");
  EvolveBlock block;
  if (Status s = find_evolve_block(seed_source, &block); !s.ok())
    return fail("run", config.seed_masker + ": " + s.message() + " (the seed needs // EVOLVE-BLOCK-START and // EVOLVE-BLOCK-END lines)");
  if (config.proposer == "llm") {  // a bad [llm] table must fail before the run directory exists
    std::unique_ptr<Proposer> probe;
    if (Status s = make_llm_proposer(config.llm, nullptr, &probe); !s.ok()) return fail("run", s.message());
  }
  const std::string run_dir = args.runs_dir + "/" + config.name;
  if (fs::exists(run_db_path(run_dir)))
    return fail("run", run_dir + " already holds a run; continue it with adrs resume " + run_dir + " or choose another --name");
  if (Status s = make_directories(run_dir); !s.ok()) return fail("run", s.message());
  std::unique_ptr<RunLock> lock;
  if (Status s = RunLock::Acquire(run_dir, &lock); !s.ok()) return fail("run", s.message());
  std::unique_ptr<RunDb> db;
  if (Status s = RunDb::Open(run_db_path(run_dir), RunDb::Mode::kCreate, &db); !s.ok()) return fail("run", s.message());
  Status s = db->set_states({{"config", config_to_json(config).dump()},
                             {"adrs_version", kAdrsVersion},
                             {"created_at", utc_now()},
                             {"seed_masker", config.seed_masker},
                             {"elapsed_s", "0"}});
  if (s.ok()) s = insert_seed_candidate(*db, seed_source);
  if (!s.ok()) return fail("run", s.message());
  return drive("run", args, run_dir, config, *db);
}

int run_resume(RunArgs& args) {
  install_interrupt_handler();
  std::string run_dir = args.run_dir;
  while (run_dir.size() > 1 && run_dir.back() == '/') run_dir.pop_back();
  {
    std::unique_ptr<RunDb> probe;  // the same clear errors as the inspection commands
    if (Status s = open_run_for_reading(run_dir, &probe); !s.ok() && s.message().find("schema") == std::string::npos)
      return fail("resume", s.message());
  }
  std::unique_ptr<RunLock> lock;
  if (Status s = RunLock::Acquire(run_dir, &lock); !s.ok()) return fail("resume", s.message());
  std::unique_ptr<RunDb> db;
  if (Status s = RunDb::Open(run_db_path(run_dir), RunDb::Mode::kReadWrite, &db); !s.ok()) return fail("resume", s.message());
  const std::string version = db->state("adrs_version", "unknown");
  if (version != kAdrsVersion && !args.allow_version_change)
    return fail("resume", run_dir + " was made by adrs " + version + ", this is adrs " + kAdrsVersion +
                              "; scores may not be comparable. Pass --allow-version-change to continue anyway");
  RunConfig stored;
  if (Status s = stored_config(*db, &stored); !s.ok()) return fail("resume", s.message());
  RunConfig wanted = stored;
  if (!args.config_path.empty()) {
    wanted = RunConfig();
    if (Status s = load_config_file(args.config_path, &wanted); !s.ok()) return fail("resume", s.message());
    wanted.name = stored.name;
  }
  if (Status s = args.flags.apply(&wanted); !s.ok()) return fail("resume", s.message());
  if (Status s = wanted.validate(); !s.ok()) return fail("resume", s.message());
  std::string refused, changed;
  for (const ConfigDifference& d : diff_configs(stored, wanted))
    (d.changeable ? changed : refused) += "\n  " + d.key + ": " + d.before + " -> " + d.after;
  if (!refused.empty())
    return fail("resume", "the config differs from the run's in keys that define the search, so the run cannot continue:" +
                              refused + "\nstart a new run with adrs run for these settings, or drop the changes");
  if (!changed.empty()) {
    db->add_event("config", "changed on resume:" + changed);
    if (Status s = db->set_state("config", config_to_json(wanted).dump()); !s.ok()) return fail("resume", s.message());
    if (!args.json && !args.quiet) spdlog::info("resume with changed limits:{}", changed);
  }
  if (version != kAdrsVersion) db->add_event("version", "resumed by adrs " + std::string(kAdrsVersion) + " (made by " + version + ")");
  db->set_state("adrs_version", kAdrsVersion);
  return drive("resume", args, run_dir, wanted, *db);
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
  add_common(cmd, *args);
  args->flags.add_to(cmd);
  cmd->footer("Every config key is also a flag (flags win). Ctrl-C stops cleanly; adrs resume continues.\n"
              "Exit status: 0 when a stop condition ended the run, 1 on a fault, 2 on bad usage, 130 when interrupted.");
  return [args] { return run_new(*args); };
}

CommandRunner add_resume_command(CLI::App& app) {
  auto args = std::make_shared<RunArgs>();
  CLI::App* cmd = app.add_subcommand("resume", "Continue a run after Ctrl-C, a crash or kill -9, or with a larger budget");
  cmd->add_option("run", args->run_dir, "Run directory, e.g. runs/my-run")->required();
  cmd->add_option("--config", args->config_path, "A changed config: only stop conditions and resource limits may differ");
  cmd->add_flag("--allow-version-change", args->allow_version_change, "Continue a run made by another adrs version");
  add_common(cmd, *args);
  args->flags.add_to(cmd);
  return [args] { return run_resume(*args); };
}

}  // namespace adrs

// adrs init DIR: a new project folder with what a run needs and a user edits: the starter masker
// (masker.cpp), the prompt templates (prompts/, used by the LLM proposer when present), and a run
// config (adrs.toml) whose paths are relative to the folder, so `adrs run --config DIR/adrs.toml`
// works from anywhere. Never writes into a folder that holds anything.
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "driver/cli/commands.h"
#include "driver/run/run_session.h"
#include "util/resources.h"

namespace adrs {

namespace {

namespace fs = std::filesystem;

constexpr const char* kConfig = R"toml(# An adrs run config (every key: runs/sparse_attention.toml in the adrs source, or adrs run --help).
# Paths are relative to this file's folder. Start it with:  adrs run --config adrs.toml
# Every key is also a flag: adrs run --config adrs.toml --max-candidates 200 --workload smoke

[run]
name = "my-run"               # the run goes to runs/<name>/ under the current directory
seed_masker = "masker.cpp"    # the starting masker: edit its EVOLVE block, or leave it as shipped

[evaluation]
# Chosen on a suite (weighted mean of the settings' scores), reported on held-out settings it
# never saw. One setting instead: workload = "default" and target_density = 0.10, no suite.
workload = "default"          # the setting a --workload / --target-density flag replaces the suite with
target_density = 0.10
suite = "default@0.02, default@0.05, default@0.1*2, tinylm@0.1"
heldout = "default@0.02, longlm@0.1"
track = "oracle"              # or "blind": no exact scores, key reads are counted and charged
device = "auto"               # cuda when a GPU is present, else cpu

[search]
parallel = 2

[proposer]
proposer = "offline"          # no network; "llm" uses the [llm] table below

[stop]
max_candidates = 60

# With proposer = "llm" (docs/LLM.md; runs/openai.toml, anthropic.toml, local_llm.toml in the source):
# [llm]
# max_cost_usd = 5.0
# [[llm.models]]
# name = "gpt-5-mini"
# provider = "openai"
# base_url = "https://api.openai.com/v1"
# api_key_env = "OPENAI_API_KEY"   # the NAME of the variable; the key never goes in a file
)toml";

// Copies the regular files of `from` (following the link a build tree makes to the source folder)
// into `to`.
Status copy_folder(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::create_directories(to, ec);
  if (ec) return Status::Error("cannot create " + to.string() + ": " + ec.message());
  for (const auto& entry : fs::directory_iterator(from, ec)) {
    if (!entry.is_regular_file(ec)) continue;
    fs::copy_file(entry.path(), to / entry.path().filename(), ec);
    if (ec) return Status::Error("cannot copy " + entry.path().string() + ": " + ec.message());
  }
  if (ec) return Status::Error("cannot read " + from.string() + ": " + ec.message());
  return Status::Ok();
}

int run_init(const std::string& dir) {
  std::error_code ec;
  if (fs::exists(dir, ec) && !(fs::is_directory(dir, ec) && fs::is_empty(dir, ec)))
    return fail("init", "'" + dir + "' already exists and is not an empty folder; name a new one (nothing was written)");
  const fs::path shipped = data_dir();
  const fs::path starter = shipped / "masker_template" / "evolve_masker.cpp";
  if (!fs::is_regular_file(starter, ec))
    return fail("init", "the shipped starter masker is missing (" + starter.string() + "); reinstall adrs or set ADRS_HOME");
  fs::create_directories(dir, ec);
  if (ec) return fail("init", "cannot create '" + dir + "': " + ec.message());
  fs::copy_file(starter, fs::path(dir) / "masker.cpp", ec);
  if (ec) return fail("init", "cannot write " + (fs::path(dir) / "masker.cpp").string() + ": " + ec.message());
  if (Status s = copy_folder(shipped / "prompts", fs::path(dir) / "prompts"); !s.ok()) return fail("init", s);
  std::ofstream config(fs::path(dir) / "adrs.toml");
  config << kConfig;
  if (!config.flush()) return fail("init", "cannot write " + (fs::path(dir) / "adrs.toml").string());
  std::printf("created %s: adrs.toml (the run config), masker.cpp (the starter masker), prompts/ (LLM prompt templates)\n"
              "next:\n  cd %s && %s run --config adrs.toml\n",
              dir.c_str(), dir.c_str(), adrs_command_name().c_str());
  return 0;
}

}  // namespace

CommandRunner add_init_command(CLI::App& app) {
  auto dir = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("init", "Start a project folder: a run config, the starter masker and the prompt templates");
  cmd->add_option("dir", *dir, "A new (or empty) folder")->required();
  return [dir] { return run_init(*dir); };
}

}  // namespace adrs

// RunConfig: everything that defines a run, read from a TOML file (runs/*.toml) with every scalar
// key also available as a command-line flag (flags win). Stored in the run database as JSON so
// resume continues with exactly the same settings.
//
// TOML layout: tables [run], [evaluation], [search], [proposer], [stop], and [llm] (free-form,
// handed to the LLM proposer). A key's flag is its name with '_' -> '-': search.islands is
// --islands. Unknown keys are errors (a typo must not silently fall back to a default).
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "util/status.h"

namespace adrs {

struct RunConfig {
  // [run]
  std::string name = "run";
  uint64_t seed = 1;  // selector and proposer randomness derive from it
  std::string seed_masker;  // "" : the shipped starter (<data dir>/masker_template/evolve_masker.cpp)
  // [evaluation]
  std::string workload = "smoke";
  double target_density = 0.10;
  // A suite of settings "workload@density[*weight], ..." (driver/run/suite.h); "" is the suite of
  // one (workload, target_density). In TOML also an array of tables {workload, target_density, weight}.
  std::string suite;
  // Held-out settings, same syntax (weights ignored): synthetic workloads become twins with seeds
  // drawn at run creation; traces are used as they are. Never influence selection.
  std::string heldout;
  int heldout_top_k = 5;        // candidates evaluated on the held-out settings when the run stops
  std::string track = "oracle";  // oracle: row.scores and raw keys visible; blind: counted key reads
  double access_ratio = 2.0;     // blind: penalty on max(density, access_density / access_ratio)
  double improvement_margin = 0.0;  // a new best must beat the old by more than this and the seed noise
  uint64_t eval_seed = 0;  // first evaluation seed; --eval-seeds K uses eval_seed .. eval_seed+K-1
  int eval_seeds = 1;
  double timeout_s = 60.0;
  double compile_timeout_s = 60.0;
  int eval_threads = 1;  // threads per worker; --parallel N workers run at once
  int64_t memory_mb = 4096;
  std::string device = "cpu";
  // GPUs to score on (device cuda or auto): "" the first one, "all" every visible one, or a list
  // "0,2" (TOML: devices = [0, 2]). One backend per GPU, each with its own copy of the workload.
  std::string devices;
  int eval_workers = 0;  // evaluations (compile + worker + scoring) at once; 0: enough for the machine
  std::string cache_dir;  // compiled maskers; "" : <run dir>/cache
  bool cascade = false;  // stage 1 on cascade_workload first
  std::string cascade_workload = "smoke";
  double cascade_margin = 0.05;  // go on when stage-1 score >= island's best stage-1 score - margin
  // [search]
  int parallel = 2;
  // "deterministic": candidate i is chosen from candidates 1..i-parallel (resume repeats every
  // choice). "async": chosen from whatever has finished, results applied in completion order,
  // which is recorded (applied_seq) so resume rebuilds the same population (docs/DRIVER.md).
  std::string schedule = "deterministic";
  int islands = 2;
  int migration_interval = 20;  // candidates between migrations (0: never)
  int grid_bins = 6;
  std::string feature_x = "density";
  std::string feature_y = "code_length";
  int archive_size = 16;
  double exploit_ratio = 0.6;  // parent from the island's best
  double explore_ratio = 0.25; // parent uniformly from the island; the rest: a MAP-Elites cell
  double rewrite_ratio = 0.3;  // share of structural (rewrite) mutations
  double crossover_ratio = 0.1;
  int inspirations = 3;
  // [proposer]
  std::string proposer = "offline";
  bool tune_constants = false;  // LLM runs: also tune the constants of the best candidates offline
  double tune_ratio = 0.3;      // share of proposals given to the tuner when tune_constants is on
  // [stop]
  int64_t max_candidates = 100;  // total candidate rows, the seed included
  double max_wall_s = 0.0;       // 0: no limit (summed over resumes)
  double target_score = NAN;     // stop once the best score reaches it (NaN: none)
  int64_t patience = 0;          // stop after this many candidates without improvement (0: none)
  double max_cost = 0.0;         // USD of proposer calls (0: no limit)
  int64_t max_proposer_errors = 5;  // stop after this many proposer errors of one kind in a row (0: never)
  // [executor]: where evaluations run (driver/run/executor.h, docs/SCALING.md).
  std::string executor = "local";  // local or slurm
  std::string partition, account, gres;  // sbatch/srun --partition, --account, --gres
  int gpus_per_task = 0;                 // --gpus-per-task (0: not passed)
  int cpus_per_task = 1;                 // --cpus-per-task
  std::string time_limit = "00:10:00";   // --time of one evaluation task
  int max_tasks = 8;                     // Slurm tasks at once (queued or running)
  int max_retries = 2;                   // resubmissions of a lost task before the run stops
  std::string sbatch_args, srun_args;    // extra arguments, split on spaces
  double poll_s = 1.0;                   // how often squeue and the result file are checked
  // [llm]: read by the LLM proposer; opaque here.
  nlohmann::json llm = nlohmann::json::object();

  Status validate() const;
  bool async() const { return schedule == "async"; }
};

// The GPU indices named by `devices` ("", "all" or "0,2"), given how many the machine has.
// Empty `devices` gives {0}. Errors name the index that does not exist and the fix.
Status parse_devices(const std::string& devices, int available, std::vector<int>* out);

// Limits on user input, checked by RunConfig::validate with one clear error each.
// A name is one directory entry (NAME_MAX 255 bytes) and also part of the temporary sibling
// ".<name>.creating-<pid>" that creation builds the run in; 200 bytes leaves room for that.
inline constexpr size_t kMaxRunNameBytes = 200;
inline constexpr int64_t kMaxCandidatesLimit = 1000000000;
// A plain directory name: 1..kMaxRunNameBytes bytes, no '/', no control character, not starting
// with '.' (so not "." or ".." either). The error names the rule that failed.
Status validate_run_name(const std::string& name);

// One configurable key: "section.name", how to parse it and print it.
struct ConfigKey {
  std::string section, name, help;
  bool changeable_on_resume;  // stop conditions and resource limits may change; the search may not
  std::function<Status(RunConfig&, const std::string&)> set;
  std::function<nlohmann::json(const RunConfig&)> get;
  std::string flag() const;
};
const std::vector<ConfigKey>& config_keys();

// Reads a TOML file over the defaults. Errors name the file, the key and the fix. Relative paths
// in the file (run.seed_masker, evaluation.cache_dir, llm.prompts_dir) are taken relative to the
// file's folder, so a config works from any current directory; paths given as flags are taken
// relative to the current directory, as shells expect.
Status load_config_file(const std::string& path, RunConfig* config);

// The seed masker's path: config.seed_masker, or the shipped starter when it is empty.
std::string seed_masker_path(const RunConfig& config);

nlohmann::json config_to_json(const RunConfig& config);
// A key's value as a config file or a flag spells it (a string without quotes).
std::string json_text(const nlohmann::json& value);
Status config_from_json(const nlohmann::json& json, RunConfig* config);

// The keys whose values differ ("search.islands: 2 -> 4"), changeable or not.
struct ConfigDifference {
  std::string key, before, after;
  bool changeable;
};
std::vector<ConfigDifference> diff_configs(const RunConfig& before, const RunConfig& after);

}  // namespace adrs

#include "driver/run/run_config.h"

// Header-only toml++ keeps the build free of the library's soname (as with spdlog).
#define TOML_HEADER_ONLY 1
#include <toml++/toml.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <set>
#include <sstream>
#include <type_traits>

#include <fmt/format.h>

#include "driver/run/suite.h"
#include "util/resources.h"
#include "util/suggest.h"

namespace adrs {

namespace {

Status parse_double(const std::string& text, double* out) {
  if (text == "none" || text == "nan") {
    *out = NAN;
    return Status::Ok();
  }
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end) return Status::Error("'" + text + "' is not a number");
  // "inf" or 1e400 would pass strtod; no key means infinity ("none" is the word for no limit).
  if (errno == ERANGE || !std::isfinite(v)) return Status::Error("'" + text + "' is out of range (use a finite number, or none)");
  *out = v;
  return Status::Ok();
}

// Parses a whole decimal integer that fits T exactly: no silent wrap (4294967298 into an int is
// an error, not 2), no clamp (strtoll's LLONG_MAX on overflow is an error), no sign flip for
// unsigned keys ("-1" is not 2^64 - 1).
template <typename T>
Status parse_int(const std::string& text, T* out) {
  const bool digits = !text.empty() && text.find_first_not_of("0123456789", text[0] == '-' || text[0] == '+' ? 1 : 0) == std::string::npos &&
                      text.size() > (text[0] == '-' || text[0] == '+' ? 1u : 0u);
  if (!digits) return Status::Error("'" + text + "' is not an integer (write it in plain digits, e.g. 8)");
  auto range = [&] {
    return Status::Error("'" + text + "' is out of range (" + std::to_string(std::numeric_limits<T>::min()) + ".." +
                         std::to_string(std::numeric_limits<T>::max()) + ")");
  };
  errno = 0;
  if constexpr (std::is_unsigned_v<T>) {
    if (text[0] == '-') return range();
    const unsigned long long v = std::strtoull(text.c_str(), nullptr, 10);
    if (errno == ERANGE || v > std::numeric_limits<T>::max()) return range();
    *out = static_cast<T>(v);
  } else {
    const long long v = std::strtoll(text.c_str(), nullptr, 10);
    if (errno == ERANGE || v < std::numeric_limits<T>::min() || v > std::numeric_limits<T>::max()) return range();
    *out = static_cast<T>(v);
  }
  return Status::Ok();
}

Status parse_bool(const std::string& text, bool* out) {
  if (text == "true" || text == "1" || text == "yes") *out = true;
  else if (text == "false" || text == "0" || text == "no") *out = false;
  else return Status::Error("'" + text + "' is not true or false");
  return Status::Ok();
}

template <typename T>
ConfigKey integer_key(std::string section, std::string name, T RunConfig::*member, std::string help, bool changeable) {
  return {std::move(section), std::move(name), std::move(help), changeable,
          [member](RunConfig& c, const std::string& text) { return parse_int(text, &(c.*member)); },
          [member](const RunConfig& c) { return nlohmann::json(c.*member); }};
}

ConfigKey real_key(std::string section, std::string name, double RunConfig::*member, std::string help, bool changeable) {
  return {std::move(section), std::move(name), std::move(help), changeable,
          [member](RunConfig& c, const std::string& text) { return parse_double(text, &(c.*member)); },
          [member](const RunConfig& c) { return std::isnan(c.*member) ? nlohmann::json("none") : nlohmann::json(c.*member); }};
}

ConfigKey text_key(std::string section, std::string name, std::string RunConfig::*member, std::string help, bool changeable) {
  return {std::move(section), std::move(name), std::move(help), changeable,
          [member](RunConfig& c, const std::string& text) {
            c.*member = text;
            return Status::Ok();
          },
          [member](const RunConfig& c) { return nlohmann::json(c.*member); }};
}

ConfigKey bool_key(std::string section, std::string name, bool RunConfig::*member, std::string help, bool changeable) {
  return {std::move(section), std::move(name), std::move(help), changeable,
          [member](RunConfig& c, const std::string& text) { return parse_bool(text, &(c.*member)); },
          [member](const RunConfig& c) { return nlohmann::json(c.*member); }};
}

// A relative path read from the config file at `file` names a place beside that file.
void relative_to_file(const std::string& file, std::string* path) {
  namespace fs = std::filesystem;
  if (path->empty() || fs::path(*path).is_absolute()) return;
  std::error_code ec;
  *path = (fs::absolute(file, ec).parent_path() / *path).lexically_normal().string();
}

}  // namespace

std::string json_text(const nlohmann::json& j) { return j.is_string() ? j.get<std::string>() : j.dump(); }

Status validate_run_name(const std::string& name) {
  // The name becomes one path component (runs/<name>) and, during creation, part of a temporary
  // sibling ".<name>.creating-<pid>"; it is also printed in log lines and hints, so it holds no
  // control characters (a newline would forge a log line).
  std::string shown;
  for (unsigned char c : name.substr(0, 60)) shown += c < 0x20 || c == 0x7f ? '?' : static_cast<char>(c);
  if (name.size() > 60) shown += "...";
  if (name.empty()) return Status::Error("run.name is empty; give the run a name, e.g. --name my-run");
  if (name.size() > kMaxRunNameBytes)
    return Status::Error("run.name '" + shown + "' is " + std::to_string(name.size()) + " bytes long; the limit is " +
                         std::to_string(kMaxRunNameBytes) + " bytes (a directory name; multi-byte characters count per byte)");
  for (unsigned char c : name)
    if (c < 0x20 || c == 0x7f)
      return Status::Error("run.name '" + shown + "' contains a control character (newline, tab, ...); use letters, digits, '-', '_' or '.'");
  if (name.find('/') != std::string::npos)
    return Status::Error("run.name '" + shown + "' contains '/'; it must be a plain directory name (use --runs-dir for the folder)");
  if (name[0] == '.')
    return Status::Error("run.name '" + shown + "' starts with '.' (\".\", \"..\" and hidden names are not run names); start it with a letter or digit");
  return Status::Ok();
}

std::string ConfigKey::flag() const {
  std::string f = "--" + name;
  for (char& c : f)
    if (c == '_') c = '-';
  return f;
}

namespace {

// The keys of [executor] and [stop], in the order --help lists them.
std::vector<ConfigKey> executor_and_stop_keys() {
  using C = RunConfig;
  return {
      text_key("executor", "kind", &C::executor, "Where evaluations run: local or slurm", true),
      text_key("executor", "partition", &C::partition, "Slurm partition (--partition)", true),
      text_key("executor", "account", &C::account, "Slurm account (--account)", true),
      text_key("executor", "gres", &C::gres, "Slurm generic resources per task, e.g. gpu:1 (--gres)", true),
      integer_key("executor", "gpus_per_task", &C::gpus_per_task, "Slurm --gpus-per-task (0: not passed)", true),
      integer_key("executor", "cpus_per_task", &C::cpus_per_task, "Slurm --cpus-per-task", true),
      text_key("executor", "time_limit", &C::time_limit, "Slurm --time of one evaluation task", true),
      integer_key("executor", "max_tasks", &C::max_tasks, "Slurm tasks queued or running at once", true),
      integer_key("executor", "max_retries", &C::max_retries, "Resubmissions of a lost Slurm task before the run stops", true),
      text_key("executor", "sbatch_args", &C::sbatch_args, "Extra sbatch arguments (outside an allocation)", true),
      text_key("executor", "srun_args", &C::srun_args, "Extra srun arguments (inside an allocation)", true),
      real_key("executor", "poll_s", &C::poll_s, "Seconds between checks of a Slurm task", true),
      integer_key("stop", "max_candidates", &C::max_candidates, "Stop after this many candidates (the seed included)", true),
      real_key("stop", "max_wall_s", &C::max_wall_s, "Stop after this many seconds of running (0: no limit)", true),
      real_key("stop", "target_score", &C::target_score, "Stop when the best score reaches this ('none': never)", true),
      integer_key("stop", "patience", &C::patience, "Stop after this many candidates without improvement (0: never)", true),
      real_key("stop", "max_cost", &C::max_cost, "Stop when proposer calls have cost this many USD (0: no limit)", true),
      integer_key("stop", "max_proposer_errors", &C::max_proposer_errors,
                  "Stop after this many proposer errors of one kind in a row, e.g. a missing key (0: never)", true),
  };
}

}  // namespace

const std::vector<ConfigKey>& config_keys() {
  using C = RunConfig;
  static const std::vector<ConfigKey> keys = [] {
    std::vector<ConfigKey> all = {
      text_key("run", "name", &C::name, "Run name: the run lives in runs/<name>/", false),
      integer_key("run", "seed", &C::seed, "Seed of the selector and the proposer", false),
      text_key("run", "seed_masker", &C::seed_masker, "Starting masker source (.cpp with EVOLVE markers; default: the shipped starter)", false),
      text_key("evaluation", "workload", &C::workload, "Workload preset candidates are scored on", false),
      real_key("evaluation", "target_density", &C::target_density, "Target fraction of keys kept", false),
      text_key("evaluation", "suite", &C::suite, "Suite of settings 'workload@density[*weight],...' ('': workload at target_density)", false),
      text_key("evaluation", "heldout", &C::heldout, "Held-out settings 'workload@density,...' reported when the run stops", false),
      integer_key("evaluation", "heldout_top_k", &C::heldout_top_k, "Best candidates evaluated on the held-out settings", true),
      text_key("evaluation", "track", &C::track, "oracle (exact scores visible) or blind (key reads counted and charged)", false),
      real_key("evaluation", "access_ratio", &C::access_ratio, "Blind track: penalty on max(density, access_density / access_ratio)", false),
      real_key("evaluation", "improvement_margin", &C::improvement_margin, "A new best must beat the old by more than this (and the seed noise)", false),
      integer_key("evaluation", "eval_seed", &C::eval_seed, "First evaluation seed", false),
      integer_key("evaluation", "eval_seeds", &C::eval_seeds, "Evaluation seeds per candidate (mean and std stored)", false),
      real_key("evaluation", "timeout_s", &C::timeout_s, "Wall-clock seconds one masker run may take", true),
      real_key("evaluation", "compile_timeout_s", &C::compile_timeout_s, "Seconds the compiler may run", true),
      integer_key("evaluation", "eval_threads", &C::eval_threads, "Threads per masker worker", true),
      integer_key("evaluation", "memory_mb", &C::memory_mb, "Memory limit of a masker worker, MiB", true),
      text_key("evaluation", "device", &C::device, "Evaluator backend: cpu, cuda or auto", false),
      text_key("evaluation", "devices", &C::devices, "GPUs to score on: all, or a list such as 0,2 (default: the first)", true),
      integer_key("evaluation", "eval_workers", &C::eval_workers, "Evaluations at once (0: one per core, enough for every GPU)", true),
      text_key("evaluation", "cache_dir", &C::cache_dir, "Compile cache of the run (default: <run dir>/cache)", true),
      bool_key("evaluation", "cascade", &C::cascade, "Score on cascade_workload first; go on only when close to the best", false),
      text_key("evaluation", "cascade_workload", &C::cascade_workload, "Stage-1 workload of the cascade", false),
      real_key("evaluation", "cascade_margin", &C::cascade_margin, "Stage-1 score margin below the island's best that still goes on", false),
      integer_key("search", "parallel", &C::parallel, "Candidates in flight at once", true),
      integer_key("search", "islands", &C::islands, "Number of islands", false),
      integer_key("search", "migration_interval", &C::migration_interval, "Candidates between island migrations (0: never)", false),
      integer_key("search", "grid_bins", &C::grid_bins, "MAP-Elites bins per feature", false),
      text_key("search", "feature_x", &C::feature_x, "MAP-Elites feature: density, code_length, error, blocks", false),
      text_key("search", "feature_y", &C::feature_y, "MAP-Elites feature: density, code_length, error, blocks", false),
      integer_key("search", "archive_size", &C::archive_size, "Size of the elite archive", false),
      real_key("search", "exploit_ratio", &C::exploit_ratio, "Share of parents taken from the island's best", false),
      real_key("search", "explore_ratio", &C::explore_ratio, "Share of parents taken uniformly from the island", false),
      real_key("search", "rewrite_ratio", &C::rewrite_ratio, "Share of structural (rewrite) mutations", false),
      real_key("search", "crossover_ratio", &C::crossover_ratio, "Share of crossover mutations", false),
      integer_key("search", "inspirations", &C::inspirations, "Inspirations shown to the proposer", false),
      text_key("search", "schedule", &C::schedule, "deterministic (resume repeats every choice) or async (no idle slots)", false),
      text_key("proposer", "proposer", &C::proposer, "Proposer: offline (no network), llm (one prompt, one answer) or agent (tools, several turns)", false),
      bool_key("proposer", "tune_constants", &C::tune_constants, "LLM runs: tune the constants of good candidates offline too", false),
      real_key("proposer", "tune_ratio", &C::tune_ratio, "Share of proposals given to the constant tuner (with tune_constants)", false),
    };
    for (ConfigKey& k : executor_and_stop_keys()) all.push_back(std::move(k));
    return all;
  }();
  return keys;
}

Status RunConfig::validate() const {
  auto bad = [](const std::string& what) { return Status::Error("config: " + what); };
  if (Status s = validate_run_name(name); !s.ok()) return bad(s.message());
  if (!(target_density > 0 && target_density <= 1)) return bad("evaluation.target_density must be in (0, 1], e.g. 0.1");
  if (Status s = check_suite_keys(*this); !s.ok()) return bad(s.message());
  if (eval_seeds < 1 || eval_seeds > 64) return bad("evaluation.eval_seeds must be in 1..64");
  if (!(timeout_s > 0) || !(compile_timeout_s > 0)) return bad("evaluation.timeout_s and compile_timeout_s must be > 0");
  if (eval_threads < 0) return bad("evaluation.eval_threads must be >= 0 (0: all cores)");
  if (memory_mb < 64) return bad("evaluation.memory_mb must be >= 64");
  if (device != "cpu" && device != "cuda" && device != "auto") return bad("evaluation.device must be cpu, cuda or auto");
  if (!(cascade_margin >= 0)) return bad("evaluation.cascade_margin must be >= 0");
  if (parallel < 0 || parallel > 256) return bad("search.parallel must be in 0..256 (0: enough for every evaluation slot)");
  if (executor != "local" && executor != "slurm") return bad("executor.kind must be local or slurm");
  if (max_tasks < 1 || max_retries < 0 || cpus_per_task < 1 || gpus_per_task < 0 || !(poll_s >= 0.05))
    return bad("executor: max_tasks and cpus_per_task must be >= 1, max_retries and gpus_per_task >= 0, poll_s >= 0.05");
  if (schedule != "deterministic" && schedule != "async") return bad("search.schedule must be deterministic or async");
  if (eval_workers < 0 || eval_workers > 1024) return bad("evaluation.eval_workers must be in 0..1024 (0: automatic)");
  std::vector<int> device_ids;  // which exist is known only when the backends are made
  if (Status s = parse_devices(devices, 1 << 20, &device_ids); !s.ok()) return bad(s.message());
  if (islands < 1 || islands > 64) return bad("search.islands must be in 1..64");
  if (migration_interval < 0) return bad("search.migration_interval must be >= 0");
  if (grid_bins < 1 || grid_bins > 100) return bad("search.grid_bins must be in 1..100");
  for (const std::string* f : {&feature_x, &feature_y})
    if (*f != "density" && *f != "code_length" && *f != "error" && *f != "blocks")
      return bad("search feature '" + *f + "' is unknown; choose density, code_length, error or blocks");
  if (archive_size < 1) return bad("search.archive_size must be >= 1");
  for (double r : {exploit_ratio, explore_ratio, rewrite_ratio, crossover_ratio, tune_ratio})
    if (!(r >= 0 && r <= 1)) return bad("search ratios must be in [0, 1]");
  if (exploit_ratio + explore_ratio > 1.0 + 1e-9) return bad("search.exploit_ratio + explore_ratio must be <= 1");
  if (rewrite_ratio + crossover_ratio > 1.0 + 1e-9) return bad("search.rewrite_ratio + crossover_ratio must be <= 1");
  if (inspirations < 0 || inspirations > 16) return bad("search.inspirations must be in 0..16");
  if (proposer != "offline" && proposer != "llm" && proposer != "agent")
    return bad("proposer.proposer must be offline, llm or agent");
  if (proposer == "offline" && llm.is_object() && !llm.empty())
    return bad("the config has an [llm] table but proposer.proposer is \"offline\", so no LLM would be called: set "
               "proposer = \"llm\" (or \"agent\") in [proposer] (or pass --proposer llm), or remove the [llm] table for an offline run");
  if (max_candidates < 1 || max_candidates > kMaxCandidatesLimit)
    return bad("stop.max_candidates must be in 1.." + std::to_string(kMaxCandidatesLimit));
  if (max_wall_s < 0 || patience < 0 || max_cost < 0 || max_proposer_errors < 0) return bad("stop limits must be >= 0 (0: no limit)");
  return Status::Ok();
}

Status parse_devices(const std::string& devices, int available, std::vector<int>* out) {
  out->clear();
  if (devices.empty()) {
    out->push_back(0);
    return Status::Ok();
  }
  if (devices == "all") {
    for (int i = 0; i < available; ++i) out->push_back(i);
    if (out->empty()) return Status::Error("evaluation.devices = all, but no GPU is visible; use --device cpu");
    return Status::Ok();
  }
  std::stringstream list(devices);
  std::string item;
  while (std::getline(list, item, ',')) {
    int index = -1;
    if (Status s = parse_int(item, &index); !s.ok() || index < 0)
      return Status::Error("evaluation.devices: '" + item + "' is not a GPU index; write all, or indices such as 0,2");
    if (index >= available)
      return Status::Error("evaluation.devices names GPU " + item + " but " + std::to_string(available) +
                           " are visible (0.." + std::to_string(available - 1) + "); use all or a smaller index");
    for (int seen : *out)
      if (seen == index) return Status::Error("evaluation.devices names GPU " + item + " twice");
    out->push_back(index);
  }
  if (out->empty()) return Status::Error("evaluation.devices is empty; write all, or indices such as 0,2");
  return Status::Ok();
}

// suite = [{workload = "default", target_density = 0.02, weight = 1}, ...] as the key's text form.
Status settings_table_text(const toml::array& array, std::string* out) {
  out->clear();
  for (const toml::node& item : array) {
    const toml::table* t = item.as_table();
    if (!t) return Status::Error("must be an array of tables {workload = \"default\", target_density = 0.1, weight = 1}");
    std::string part;
    for (const auto& [key, value] : *t) {
      const std::string k(key.str());
      if (k == "workload" && value.is_string()) part = *value.value<std::string>() + part;
      else if (k == "target_density" && (value.is_number())) part += "@" + std::to_string(*value.value<double>());
      else if (k == "weight" && value.is_number()) part += "*" + std::to_string(*value.value<double>());
      else return Status::Error("unknown or mistyped field '" + k + "' (fields: workload (text), target_density, weight (numbers))");
    }
    if (part.empty() || part[0] == '@' || part[0] == '*') return Status::Error("every entry needs a workload");
    // workload first, then the density, then the weight, whatever order the table wrote them in
    const size_t at = part.find('@'), star = part.find('*');
    if (at != std::string::npos && star != std::string::npos && star < at)
      part = part.substr(0, star) + part.substr(at) + part.substr(star, at - star);
    *out += (out->empty() ? "" : ",") + part;
  }
  return Status::Ok();
}

namespace {

Status parse_toml_file(const std::string& path, toml::table* root) {
  try {
    *root = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    if (std::string(e.description()).find("File could not be opened") != std::string::npos)
      return Status::Error("cannot read config " + path + " (no such file?); example configs are in runs/*.toml");
    return Status::Error(path + ":" + std::to_string(where.line) + ":" + std::to_string(where.column) + ": " +
                         std::string(e.description()));
  }
  return Status::Ok();
}

// "unknown key", with the likely meant key, or the table it belongs in, and the table's keys.
Status unknown_key(const std::string& path, const std::string& section, const std::string& key) {
  std::string known;
  std::vector<std::string> names;
  for (const ConfigKey& k : config_keys())
    if (k.section == section) known += (known.empty() ? "" : ", ") + k.name, names.push_back(k.name);
  std::string hint = did_you_mean(key, names);
  for (const ConfigKey& k : config_keys())  // the right name in the wrong table
    if (hint.empty() && k.name == key) hint = " (" + key + " belongs in [" + k.section + "])";
  return Status::Error(path + ": unknown key " + section + "." + key + hint + "; keys of [" + section + "]: " + known);
}

// evaluation.devices = [0, 2] as the key's text form "0,2".
Status device_list_text(const std::string& path, const toml::array& list, std::string* text) {
  for (const toml::node& item : list) {
    if (!item.is_integer()) return Status::Error(path + ": evaluation.devices must be \"all\" or a list of GPU indices, e.g. [0, 2]");
    *text += (text->empty() ? "" : ",") + std::to_string(*item.value<int64_t>());
  }
  if (text->empty()) return Status::Error(path + ": evaluation.devices is an empty list; name at least one GPU, e.g. [0], or \"all\"");
  return Status::Ok();
}

// A TOML value as the key's text form (the form flags use).
Status value_text(const std::string& path, const std::string& section, const std::string& key, const toml::node& value,
                  std::string* text) {
  if (value.is_array() && section == "evaluation" && key == "devices") return device_list_text(path, *value.as_array(), text);
  if (value.is_array() && section == "evaluation" && (key == "suite" || key == "heldout")) {
    if (Status s = settings_table_text(*value.as_array(), text); !s.ok())
      return Status::Error(path + ": evaluation." + key + " " + s.message());
  } else if (auto s = value.value<std::string>(); s && value.is_string()) *text = *s;
  else if (value.is_boolean()) *text = *value.value<bool>() ? "true" : "false";
  else if (value.is_integer()) *text = std::to_string(*value.value<int64_t>());
  else if (value.is_floating_point()) *text = fmt::format("{:.17g}", *value.value<double>());
  else return Status::Error(path + ": " + section + "." + key + " must be a single value (a string, number or boolean)");
  return Status::Ok();
}

// Sets every key of one table ([run], [evaluation], ...).
Status load_table(const std::string& path, const std::string& section, const toml::table& table, RunConfig* config) {
  for (const auto& [key_name, value] : table) {
    const std::string key(key_name.str());
    const ConfigKey* found = nullptr;
    for (const ConfigKey& k : config_keys())
      if (k.section == section && k.name == key) found = &k;
    if (!found) return unknown_key(path, section, key);
    std::string text;
    if (Status s = value_text(path, section, key, value, &text); !s.ok()) return s;
    if (Status s = found->set(*config, text); !s.ok())
      return Status::Error(path + ": " + section + "." + key + ": " + s.message());
    if (key == "seed_masker") relative_to_file(path, &config->seed_masker);
    if (key == "cache_dir") relative_to_file(path, &config->cache_dir);
  }
  return Status::Ok();
}

// [llm] is handed to the LLM proposer as JSON (toml++ prints it; nlohmann reads it back).
Status load_llm_table(const std::string& path, const toml::node& node, RunConfig* config) {
  if (!node.is_table()) return Status::Error(path + ": [llm] must be a table");
  std::stringstream text;
  text << toml::json_formatter(*node.as_table());
  config->llm = nlohmann::json::parse(text.str(), nullptr, false);
  return Status::Ok();
}

}  // namespace

Status load_config_file(const std::string& path, RunConfig* config) {
  toml::table root;
  if (Status s = parse_toml_file(path, &root); !s.ok()) return s;
  std::set<std::string> sections;
  for (const ConfigKey& k : config_keys()) sections.insert(k.section);
  for (const auto& [section_name, node] : root) {
    const std::string section(section_name.str());
    if (section == "llm") {
      if (Status s = load_llm_table(path, node, config); !s.ok()) return s;
    } else if (!sections.count(section) || !node.is_table()) {
      const std::vector<std::string> tables = {"run", "evaluation", "search", "proposer", "stop", "llm"};
      return Status::Error(path + ": unknown table [" + section + "]" + did_you_mean(section, tables) +
                           "; the tables are [run], [evaluation], [search], [proposer], [stop], [llm]");
    } else if (Status s = load_table(path, section, *node.as_table(), config); !s.ok()) {
      return s;
    }
  }
  if (config->llm.is_object() && config->llm.contains("prompts_dir") && config->llm["prompts_dir"].is_string()) {
    std::string dir = config->llm["prompts_dir"].get<std::string>();
    relative_to_file(path, &dir);
    config->llm["prompts_dir"] = dir;
  }
  return Status::Ok();
}

std::string seed_masker_path(const RunConfig& config) {
  return config.seed_masker.empty() ? data_dir() + "/masker_template/evolve_masker.cpp" : config.seed_masker;
}

nlohmann::json config_to_json(const RunConfig& config) {
  nlohmann::json j = nlohmann::json::object();
  for (const ConfigKey& k : config_keys()) j[k.section][k.name] = k.get(config);
  j["llm"] = config.llm;
  return j;
}

Status config_from_json(const nlohmann::json& json, RunConfig* config) {
  if (!json.is_object()) return Status::Error("the stored config is not a JSON object");
  for (const ConfigKey& k : config_keys()) {
    if (!json.contains(k.section) || !json[k.section].contains(k.name)) continue;  // newer key: default
    if (Status s = k.set(*config, json_text(json[k.section][k.name])); !s.ok())
      return Status::Error("stored config " + k.section + "." + k.name + ": " + s.message());
  }
  if (json.contains("llm")) config->llm = json["llm"];
  return Status::Ok();
}

std::vector<ConfigDifference> diff_configs(const RunConfig& before, const RunConfig& after) {
  std::vector<ConfigDifference> out;
  for (const ConfigKey& k : config_keys()) {
    const std::string a = json_text(k.get(before)), b = json_text(k.get(after));
    if (a != b) out.push_back({k.section + "." + k.name, a, b, k.changeable_on_resume});
  }
  if (before.llm != after.llm) out.push_back({"llm", before.llm.dump(), after.llm.dump(), false});
  return out;
}

}  // namespace adrs

#include "driver/run/suite.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>

#include <fmt/format.h>

#include "evaluator/synthetic.h"

namespace adrs {

namespace {

std::string trim(const std::string& text) {
  const size_t begin = text.find_first_not_of(" \t\n");
  if (begin == std::string::npos) return "";
  return text.substr(begin, text.find_last_not_of(" \t\n") - begin + 1);
}

Status parse_number(const std::string& text, double* out) {
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end || !std::isfinite(v)) return Status::Error("'" + text + "' is not a number");
  *out = v;
  return Status::Ok();
}

Status parse_one(const std::string& entry, double default_density, Setting* out) {
  const std::string hint = " (write workload@density*weight, e.g. default@0.05*2)";
  std::string rest = entry;
  const size_t star = rest.find('*');
  if (star != std::string::npos) {
    if (Status s = parse_number(trim(rest.substr(star + 1)), &out->weight); !s.ok()) return Status::Error("weight " + s.message() + hint);
    rest = rest.substr(0, star);
  }
  const size_t at = rest.rfind('@');
  out->target_density = default_density;
  if (at != std::string::npos) {
    if (Status s = parse_number(trim(rest.substr(at + 1)), &out->target_density); !s.ok())
      return Status::Error("density " + s.message() + hint);
    rest = rest.substr(0, at);
  }
  out->workload = trim(rest);
  if (out->workload.empty()) return Status::Error("a setting without a workload" + hint);
  if (!(out->target_density > 0 && out->target_density <= 1)) return Status::Error("the density must be in (0, 1]" + hint);
  if (!(out->weight > 0)) return Status::Error("the weight must be > 0" + hint);
  return Status::Ok();
}

}  // namespace

std::string Setting::key() const {
  return workload + fmt::format("@{:g}", target_density);
}

Status parse_settings(const std::string& text, double default_density, std::vector<Setting>* out) {
  out->clear();
  size_t begin = 0;
  while (begin <= text.size()) {
    size_t end = text.find(',', begin);
    if (end == std::string::npos) end = text.size();
    const std::string entry = trim(text.substr(begin, end - begin));
    begin = end + 1;
    if (entry.empty()) {
      if (end == text.size()) break;
      return Status::Error("an empty entry in '" + text + "'");
    }
    Setting setting;
    if (Status s = parse_one(entry, default_density, &setting); !s.ok()) return Status::Error("'" + entry + "': " + s.message());
    for (const Setting& other : *out)
      if (other.key() == setting.key()) return Status::Error("'" + entry + "' names " + setting.key() + " twice; give it one entry with a weight");
    out->push_back(setting);
  }
  return Status::Ok();
}

std::vector<Setting> selection_suite(const RunConfig& config) {
  std::vector<Setting> suite;
  if (config.suite.empty() || !parse_settings(config.suite, config.target_density, &suite).ok() || suite.empty())
    return {Setting{config.workload, config.target_density, 1.0}};
  return suite;
}

std::vector<Setting> heldout_settings(const RunConfig& config) {
  std::vector<Setting> heldout;
  if (!parse_settings(config.heldout, config.target_density, &heldout).ok()) return {};
  return heldout;
}

bool is_synthetic_workload(const std::string& workload) { return find_synthetic_preset(workload) != nullptr; }

Status check_suite_keys(const RunConfig& config) {
  std::vector<Setting> settings;
  if (Status s = parse_settings(config.suite, config.target_density, &settings); !s.ok())
    return Status::Error("evaluation.suite: " + s.message());
  if (Status s = parse_settings(config.heldout, config.target_density, &settings); !s.ok())
    return Status::Error("evaluation.heldout: " + s.message());
  if (config.heldout_top_k < 1 || config.heldout_top_k > 100) return Status::Error("evaluation.heldout_top_k must be in 1..100");
  if (config.track != "oracle" && config.track != "blind")
    return Status::Error("evaluation.track must be oracle (exact scores visible, as in the study) or blind (key reads counted)");
  if (!(config.access_ratio > 0)) return Status::Error("evaluation.access_ratio must be > 0 (e.g. 2: reading a key costs half of attending to it)");
  if (!(config.improvement_margin >= 0)) return Status::Error("evaluation.improvement_margin must be >= 0");
  return Status::Ok();
}

double noise_of(double a_std, double b_std) { return std::sqrt(a_std * a_std + b_std * b_std); }

bool significantly_better(double a, double a_std, double b, double b_std, double margin) {
  // A hair above zero, so float noise between identical candidates is never an improvement.
  return a - b > std::max({margin, noise_of(a_std, b_std), 1e-12});
}

std::map<std::string, uint64_t> draw_heldout_seeds(const std::vector<Setting>& heldout) {
  std::random_device device;
  std::map<std::string, uint64_t> seeds;
  for (const Setting& s : heldout) {
    if (!is_synthetic_workload(s.workload) || seeds.count(s.workload)) continue;
    seeds[s.workload] = (static_cast<uint64_t>(device()) << 32) ^ device();
  }
  return seeds;
}

}  // namespace adrs

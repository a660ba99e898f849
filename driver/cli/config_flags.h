// ConfigFlags: every key of the run config's table (driver/run/run_config.h) as a command-line flag
// (--max-candidates, --workload, ...), for adrs run and adrs resume. The flags binding lives in
// the CLI so that the run library does not depend on CLI11.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "driver/run/run_config.h"

namespace adrs {

// Registers every key as a flag on `command`; apply() copies the given ones into a config.
class ConfigFlags {
 public:
  void add_to(CLI::App* command, bool only_changeable = false);
  Status apply(RunConfig* config) const;

 private:
  std::vector<std::pair<const ConfigKey*, CLI::Option*>> options_;
  std::map<std::string, std::vector<std::string>> values_;
};

}  // namespace adrs

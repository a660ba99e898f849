#include "util/resources.h"

#include <cstdlib>
#include <filesystem>
#include <vector>

#include "util/subprocess.h"

namespace adrs {
namespace fs = std::filesystem;

namespace {

bool holds_data(const fs::path& dir) {
  std::error_code ec;
  return fs::exists(dir / "masker_template" / "masker_api.h", ec);
}

}  // namespace

std::string data_dir() {
  if (const char* home = std::getenv("ADRS_HOME"); home && *home) return home;
  const fs::path exe = executable_dir();
  // adrs and the tests sit in <build>/ or <prefix>/bin; the worker in <prefix>/libexec/adrs.
  const std::vector<fs::path> candidates = {exe / "share/adrs", exe / "../share/adrs", exe / "../../share/adrs"};
  for (const fs::path& dir : candidates) {
    if (!holds_data(dir)) continue;
    std::error_code ec;
    const fs::path canonical = fs::weakly_canonical(dir, ec);
    return ec ? dir.string() : canonical.string();
  }
  return candidates.front().string();
}

std::string worker_binary() {
  const fs::path exe = executable_dir();
  std::error_code ec;
  if (fs::exists(exe / "adrs-worker", ec)) return (exe / "adrs-worker").string();
  const fs::path installed = exe / "../libexec/adrs/adrs-worker";
  if (fs::exists(installed, ec)) return fs::weakly_canonical(installed, ec).string();
  return (exe / "adrs-worker").string();
}

}  // namespace adrs

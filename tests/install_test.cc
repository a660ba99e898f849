// cmake --install gives a tree that works on its own: from an empty directory, with no source
// checkout or build folder in sight, the installed adrs runs the demo config copied there (the
// worker found in libexec/adrs, the starter, header and workloads in share/adrs), and its runs
// can be inspected by name. Also adrs --version.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/test_util.h"

namespace adrs {
namespace {

namespace fs = std::filesystem;

struct Shell {
  int exit_code = -1;
  std::string out;
};

// Runs `command` with sh, stdout and stderr together.
Shell shell(const std::string& command) {
  const std::string out_path = (fs::temp_directory_path() / ("adrs-install-out-" + std::to_string(::getpid()))).string();
  const int status = std::system((command + " >" + out_path + " 2>&1 </dev/null").c_str());
  Shell result{WIFEXITED(status) ? WEXITSTATUS(status) : -1, test::read_file(out_path)};
  fs::remove(out_path);
  return result;
}

TEST(Install, TheInstalledAdrsRunsTheDemoConfigFromAnEmptyDirectory) {
  const fs::path root = fs::temp_directory_path() / ("adrs-install-" + std::to_string(::getpid()));
  fs::remove_all(root);
  const fs::path prefix = root / "prefix", work = root / "empty";
  fs::create_directories(work);
  const Shell install = shell(std::string(ADRS_CMAKE_COMMAND) + " --install " + test::binary_dir() + " --prefix " + prefix.string());
  ASSERT_EQ(install.exit_code, 0) << install.out;
  for (const char* path : {"bin/adrs", "libexec/adrs/adrs-worker", "share/adrs/masker_template/masker_api.h",
                           "share/adrs/masker_template/evolve_masker.cpp", "share/adrs/prompts/system.txt"})
    EXPECT_TRUE(fs::exists(prefix / path)) << path << " was not installed";
  EXPECT_FALSE(fs::exists(prefix / "bin/adrs-worker")) << "the worker belongs in libexec, not on PATH";
  fs::copy_file(test::source_dir() + "/runs/demo.toml", work / "demo.toml");

  // No variable that could point back at the checkout: ADRS_HOME unset, a private compile cache.
  const std::string env = "cd " + work.string() + " && env -u ADRS_HOME ADRS_CACHE_DIR=" + (root / "cache").string() + " NO_COLOR=1 ";
  const std::string adrs = (prefix / "bin/adrs").string();
  const Shell version = shell(env + adrs + " --version");
  EXPECT_EQ(version.exit_code, 0) << version.out;
  EXPECT_EQ(version.out.rfind("adrs 0.", 0), 0u) << version.out;
  EXPECT_NE(version.out.find("git "), std::string::npos) << version.out;

  const Shell run = shell(env + adrs + " run --config demo.toml --workload smoke --max-candidates 3 --device cpu --quiet");
  ASSERT_EQ(run.exit_code, 0) << run.out;
  EXPECT_TRUE(fs::exists(work / "runs/demo/run.db")) << run.out;
  const Shell status = shell(env + adrs + " status demo --json");
  ASSERT_EQ(status.exit_code, 0) << status.out;
  const nlohmann::json j = nlohmann::json::parse(status.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << status.out;
  EXPECT_EQ(j["candidates"]["total"], 3) << status.out;
  EXPECT_EQ(status.out.find(test::source_dir()), std::string::npos) << "nothing names the source checkout";
  fs::remove_all(root);
}

}  // namespace
}  // namespace adrs

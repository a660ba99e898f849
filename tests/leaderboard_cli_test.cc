// adrs leaderboard and adrs workload info, run as the CLI: tables, --json, progress on stderr,
// and one-line errors for bad input.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/test_util.h"

namespace adrs {
namespace {

TEST(LeaderboardCli, JsonHasEveryBaselineAtEveryDensity) {
  const auto r = test::run_adrs("leaderboard --workload smoke --densities 0.05,0.1 --only sink_local,oracle_topk,vattention --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["workload"], "smoke");
  ASSERT_EQ(j["results"].size(), 6u);
  for (const auto& e : j["results"]) {
    EXPECT_EQ(e["status"], "ok") << e.dump();
    EXPECT_LE(e["density"].get<double>(), e["target_density"].get<double>()) << e.dump();
    EXPECT_GT(e["error"].get<double>(), 0.0);
  }
  EXPECT_NE(r.err.find("[6/6]"), std::string::npos) << "progress goes to stderr: " << r.err;
}

// The numbers of the docs are reproducible on any machine with --value-secret; without it the
// hidden values follow the per-user secret, so a fixed secret must be what changes the error.
TEST(LeaderboardCli, ValueSecretMakesSyntheticNumbersReproducibleAndSaysTheDensitySpent) {
  auto run = [](const char* secret) {
    const auto r = test::run_adrs(std::string("leaderboard --workload smoke --densities 0.1 --only oracle_topk --json --value-secret ") + secret);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return nlohmann::json::parse(r.out);
  };
  const auto a = run("7"), b = run("7"), c = run("8");
  EXPECT_EQ(a["value_secret"], 7);
  EXPECT_EQ(a["results"][0]["error"], b["results"][0]["error"]);
  EXPECT_NE(a["results"][0]["error"], c["results"][0]["error"]) << "the secret must reach the values";
  EXPECT_EQ(a["results"][0]["density"], c["results"][0]["density"]) << "keys and scores do not depend on it";
  const double spent = a["results"][0]["density_of_target"].get<double>();
  EXPECT_GE(spent, 0.9);
  EXPECT_LE(spent, 1.0);
}

TEST(LeaderboardCli, TableListsBaselinesInOrder) {
  const auto r = test::run_adrs("leaderboard --workload smoke --densities 0.1 --only oracle_sampling,vattention,sink_local");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const size_t sink = r.out.find("sink_local"), vatt = r.out.find("vattention"), oracle = r.out.find("oracle_sampling");
  ASSERT_NE(sink, std::string::npos) << r.out;
  ASSERT_NE(vatt, std::string::npos) << r.out;
  ASSERT_NE(oracle, std::string::npos) << r.out;
  EXPECT_LT(sink, vatt);
  EXPECT_LT(vatt, oracle);
  EXPECT_NE(r.out.find("@ 0.10"), std::string::npos) << r.out;
}

TEST(LeaderboardCli, BadInputGivesOneLineErrors) {
  auto r = test::run_adrs("leaderboard --workload smoke --densities 0.1,abc");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("'abc' is not a density"), std::string::npos) << r.err;
  r = test::run_adrs("leaderboard --workload nope --densities 0.1 --only sink_local");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown workload 'nope'"), std::string::npos) << r.err;
  r = test::run_adrs("leaderboard --workload smoke --only no_such_baseline");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("no baseline 'no_such_baseline'"), std::string::npos) << r.err;
}

TEST(WorkloadInfoCli, ShowsShapeAndSpreads) {
  auto r = test::run_adrs("workload info smoke --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["workload"], "smoke");
  EXPECT_EQ(j["head_dim"], 128);
  EXPECT_EQ(j["rows"], 16);
  for (const char* key : {"entropy", "sink_mass", "local_mass", "top10_mass"}) {
    ASSERT_TRUE(j.contains(key)) << key;
    EXPECT_LE(j[key]["p10"].get<double>(), j[key]["p90"].get<double>()) << key;
  }
  r = test::run_adrs("workload info smoke");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("normalized entropy"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("MiB"), std::string::npos) << r.out;
  r = test::run_adrs("workload info nope");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown workload"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace adrs

// adrs eval from the outside: exit codes, one-line usage errors, --json.
#include <gtest/gtest.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "tests/test_util.h"

namespace adrs {
namespace {

std::string starter() { return test::source_dir() + "/masker_template/evolve_masker.cpp"; }

int lines(const std::string& text) { return static_cast<int>(std::count(text.begin(), text.end(), '\n')); }

TEST(Cli, EvalJsonHasTheContractFields) {
  const auto r = test::run_adrs("eval " + starter() + " --workload smoke --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  for (const char* key : {"status", "score", "error", "density", "penalty", "target_density", "workload", "rows",
                          "row_error", "error_by_entropy", "attention_mass_kept", "weight_mass"})
    EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_EQ(j["status"], "ok");
  EXPECT_EQ(j["workload"], "smoke");
}

TEST(Cli, EvalHumanOutputIsATable) {
  const auto r = test::run_adrs("eval " + starter());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("score"), std::string::npos);
  EXPECT_NE(r.out.find("entropy"), std::string::npos);
}

TEST(Cli, FailedMaskerExitsOneWithStatus) {
  const auto r = test::run_adrs("eval " + std::string(ADRS_TEST_MASKERS) + "/throw.cpp --json");
  EXPECT_EQ(r.exit_code, 1);
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["status"], "exception");
  EXPECT_TRUE(j["score"].is_null());
}

struct UsageCase {
  const char* args;
  const char* message_part;
};

class CliUsageTest : public ::testing::TestWithParam<UsageCase> {};

TEST_P(CliUsageTest, OneLineErrorNamingTheFix) {
  const auto r = test::run_adrs(GetParam().args);
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find(GetParam().message_part), std::string::npos) << r.err;
  EXPECT_LE(lines(r.err), 2) << r.err;
}

INSTANTIATE_TEST_SUITE_P(
    BadInput, CliUsageTest,
    ::testing::Values(UsageCase{"eval /no/such/masker.cpp", "no masker file"},
                      UsageCase{"eval masker_template/evolve_masker.cpp --workload nope", "choose one of"},
                      UsageCase{"eval masker_template/evolve_masker.cpp --target-density -0.1", "[0, 1]"},
                      UsageCase{"eval masker_template/evolve_masker.cpp --target-density 1.5", "[0, 1]"},
                      UsageCase{"eval masker_template/evolve_masker.cpp --timeout 0", "positive"},
                      UsageCase{"eval masker_template/evolve_masker.cpp --device tpu", "device"},
                      UsageCase{"eval", "file"},
                      UsageCase{"frobnicate", "frobnicate"}));

TEST(Cli, CompileErrorShowsTrimmedCompilerErrors) {
  const auto r = test::run_adrs("eval " + std::string(ADRS_TEST_MASKERS) + "/syntax_error.cpp");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("compile_error"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("error:"), std::string::npos) << r.out;
  EXPECT_LT(lines(r.out), 40);
}

}  // namespace
}  // namespace adrs

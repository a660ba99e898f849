// The baseline maskers (masker_template/baselines): each compiles against the public API, runs in
// the sandboxed worker, stays at or under the density it is given, and the known ordering holds:
// sink+local is worse than oracle top-k, which is worse than vAttention-style.
#include <gtest/gtest.h>

#include <map>

#include "tests/test_util.h"

namespace adrs {
namespace {

const char* const kBaselines[] = {"sink_local", "uniform_sampling", "quest", "hash_topk",
                                  "oracle_topk", "oracle_topp", "vattention", "oracle_sampling"};

std::string baseline(const std::string& name) {
  return test::masker_source(test::source_dir() + "/masker_template/baselines/" + name + ".cpp");
}

TEST(Baselines, EveryBaselineStaysWithinItsDensity) {
  for (double density : {0.02, 0.1, 0.3}) {
    EvalOptions options = test::test_options("smoke");
    options.target_density = density;
    auto evaluator = test::make_evaluator(options);
    for (const char* name : kBaselines) {
      const EvalResult r = evaluator->evaluate_source(baseline(name));
      ASSERT_TRUE(r.ok()) << name << ": " << r.message << r.compile_log;
      EXPECT_LE(r.metrics.density, density) << name;
      EXPECT_GT(r.metrics.density, 0.0) << name;
      EXPECT_EQ(r.metrics.penalty, 0.0) << name;
      // Uniform sampling alone can be worse than keeping nothing on peaked rows (its variance).
      if (std::string(name) != "uniform_sampling") {
        EXPECT_LT(r.metrics.error, 1.0) << name << " @ " << density;
      }
    }
  }
}

TEST(Baselines, SinkLocalAtTenPercentIsTheStarter) {
  auto evaluator = test::make_evaluator(test::test_options("smoke-heldout"));
  const EvalResult ours = evaluator->evaluate_source(baseline("sink_local"));
  const EvalResult starter = evaluator->evaluate_source(
      test::read_file(test::source_dir() + "/masker_template/evolve_masker.cpp"));
  ASSERT_TRUE(ours.ok() && starter.ok()) << ours.message << starter.message;
  EXPECT_EQ(ours.metrics.error, starter.metrics.error);
  EXPECT_EQ(ours.metrics.density, starter.metrics.density);
}

TEST(Baselines, MaskersWithoutOracleScoresWorkWhenScoresAreHidden) {
  EvalOptions options = test::test_options("smoke");
  options.hide_scores = true;
  auto hidden = test::make_evaluator(options);
  auto shown = test::make_evaluator(test::test_options("smoke"));
  for (const char* name : {"quest", "hash_topk"}) {
    const EvalResult a = hidden->evaluate_source(baseline(name)), b = shown->evaluate_source(baseline(name));
    ASSERT_TRUE(a.ok() && b.ok()) << name << a.message << b.message;
    EXPECT_EQ(a.metrics.error, b.metrics.error) << name << " must not read the oracle scores";
  }
}

// The ordering of issue 4 at density 0.10: sink+local > oracle top-k > vAttention-style, on the two
// synthetic workloads and on the real trace tinylm.
TEST(Baselines, OrderingAtTenPercent) {
  for (const char* workload : {"default", "default-heldout", "tinylm"}) {
    auto evaluator = test::make_evaluator(test::test_options(workload));
    std::map<std::string, EvalResult> r;
    for (const char* name : {"sink_local", "oracle_topk", "vattention"}) {
      r[name] = evaluator->evaluate_source(baseline(name));
      ASSERT_TRUE(r[name].ok()) << workload << " " << name << ": " << r[name].message;
      EXPECT_LE(r[name].metrics.density, 0.10) << workload << " " << name;
    }
    EXPECT_GT(r["sink_local"].metrics.error, r["oracle_topk"].metrics.error) << workload;
    EXPECT_GT(r["oracle_topk"].metrics.error, r["vattention"].metrics.error) << workload;
    EXPECT_GT(r["vattention"].metrics.error, 0.0) << workload;
  }
}

}  // namespace
}  // namespace adrs

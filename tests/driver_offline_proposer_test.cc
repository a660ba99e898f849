// The offline proposer and its building blocks: literal tuning, recipes, determinism, and that
// every structural edit of the starter compiles and scores.
#include <gtest/gtest.h>

#include <set>

#include "driver/propose/building_blocks.h"
#include "driver/propose/offline_proposer.h"
#include "tests/test_util.h"

namespace adrs {
namespace {

std::string starter() { return test::read_file(test::source_dir() + "/masker_template/evolve_masker.cpp"); }

ProposalRequest request_for(const std::string& parent, MutationKind kind, uint64_t seed) {
  ProposalRequest r;
  r.candidate_id = 2;
  r.seed = seed;
  r.kind = kind;
  r.parent.id = 1;
  r.parent.source = parent;
  return r;
}

TEST(NumericLiterals, FindsNumbersButNotIdentifiersHexCommentsOrIncludes) {
  const std::string text =
      "#include <cstdint>\n// 0.5 in a comment\nint32_t x = 12; double y = 0.045 * n; auto z = 0x1F + 10ULL + 1e-3;"
      " s = \"7\"; float f = 2.5f; int zero = 0;\n";
  const std::vector<NumericLiteral> found = find_numeric_literals(text);
  std::vector<std::string> texts;
  for (const NumericLiteral& l : found) texts.push_back(text.substr(l.begin, l.end - l.begin));
  EXPECT_EQ(texts, (std::vector<std::string>{"12", "0.045", "1e-3", "2.5"}));
  EXPECT_TRUE(found[0].is_integer);
  EXPECT_FALSE(found[1].is_integer);
}

TEST(NumericLiterals, TuningChangesExactlyOneLiteral) {
  const std::string text = "a = 0.045 * n; b = 7;";
  for (uint64_t seed = 1; seed < 50; ++seed) {
    SplitMix rng(seed);
    std::string what;
    const std::string tuned = tune_one_constant(text, rng, &what);
    ASSERT_FALSE(tuned.empty());
    ASSERT_NE(tuned, text);
    const bool first_same = tuned.rfind("a = 0.045 * n;", 0) == 0;
    const bool second_same = tuned.size() >= 7 && tuned.substr(tuned.size() - 7) == " b = 7;";
    EXPECT_TRUE(first_same != second_same) << tuned;
    EXPECT_NE(what.find("->"), std::string::npos);
  }
}

TEST(Recipe, RendersAndParsesBack) {
  Recipe r;
  for (const char* name : {"residual_sampling", "sink", "topk"}) {
    r.names.push_back(name);
    r.texts.push_back(find_building_block(name)->code);
  }
  Recipe back;
  ASSERT_TRUE(parse_recipe(render_recipe(r), &back));
  EXPECT_EQ(back.names, (std::vector<std::string>{"sink", "topk", "residual_sampling"}));  // library order
  EXPECT_FALSE(parse_recipe(evolve_block_body(starter()), &back));
}

TEST(OfflineProposer, IsDeterministicAndOnlyTouchesTheEvolveBlock) {
  OfflineProposer proposer;
  std::atomic<bool> cancel{false};
  for (MutationKind kind : {MutationKind::kDiff, MutationKind::kFullRewrite, MutationKind::kCrossover}) {
    const Proposal a = proposer.propose(request_for(starter(), kind, 42), cancel);
    const Proposal b = proposer.propose(request_for(starter(), kind, 42), cancel);
    ASSERT_EQ(a.status, Proposal::Status::kOk) << a.message;
    EXPECT_EQ(a.source, b.source);
    EXPECT_NE(a.source, starter());
    EvolveBlock pa, pb;
    ASSERT_TRUE(find_evolve_block(a.source, &pa).ok());
    ASSERT_TRUE(find_evolve_block(starter(), &pb).ok());
    EXPECT_EQ(a.source.substr(0, pa.begin), starter().substr(0, pb.begin));
    EXPECT_EQ(a.source.substr(pa.end), starter().substr(pb.end));
  }
  std::atomic<bool> cancelled{true};
  EXPECT_EQ(proposer.propose(request_for(starter(), MutationKind::kDiff, 1), cancelled).status, Proposal::Status::kCancelled);
}

// Every block the library offers must compile and give a valid mask; a broken block would make
// the offline search silently waste its budget.
TEST(OfflineProposer, EveryBuildingBlockCompilesAndScores) {
  auto evaluator = test::make_evaluator(test::test_options("smoke"));
  ASSERT_TRUE(evaluator);
  std::vector<Recipe> recipes;
  for (const BuildingBlock& b : building_blocks()) {
    Recipe one{{"sink", b.name}, {find_building_block("sink")->code, b.code}};
    if (b.name == "sink") one = Recipe{{"sink"}, {b.code}};
    recipes.push_back(one);
  }
  for (const Recipe& r : recipes) {
    const PatchResult patched = replace_evolve_block(starter(), render_recipe(r));
    ASSERT_TRUE(patched.ok()) << patched.message;
    const EvalResult result = evaluator->evaluate_source(patched.source);
    EXPECT_TRUE(result.ok()) << r.names.back() << ": " << result.message << "\n" << result.compile_log;
    if (result.ok()) {
      EXPECT_LE(result.metrics.density, 0.1 + 1e-9) << r.names.back();
    }
  }
}

}  // namespace
}  // namespace adrs

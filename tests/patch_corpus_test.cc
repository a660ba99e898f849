// The patch corpus: realistic LLM answers (tests/llm_answers/*.txt) and what applying each to its
// parent must give: applied (with text the result must and must not hold) or the right PatchError.
#include <gtest/gtest.h>

#include <set>

#include <nlohmann/json.hpp>

#include "driver/patch/patch.h"
#include "tests/test_util.h"

namespace adrs {
namespace {

std::string corpus_dir() { return test::source_dir() + "/tests/llm_answers"; }

std::string parent_source(const std::string& name) {
  if (name == "starter") return test::read_file(test::source_dir() + "/masker_template/evolve_masker.cpp");
  return test::read_file(corpus_dir() + "/parent_" + name + ".cpp");
}

nlohmann::json load_cases() { return nlohmann::json::parse(test::read_file(corpus_dir() + "/cases.json")); }

TEST(PatchCorpus, HasAtLeastThirtyAnswersCoveringEveryOutcome) {
  const auto cases = load_cases();
  EXPECT_GE(cases.size(), 30u);
  std::set<std::string> outcomes;
  for (const auto& c : cases) outcomes.insert(c["expect"].get<std::string>());
  for (const char* e : {"none", "no_edits", "search_not_found", "ambiguous_search", "outside_block", "markers_broken",
                        "truncated", "no_change"})
    EXPECT_TRUE(outcomes.count(e)) << "no corpus answer expects " << e;
}

TEST(PatchCorpus, EachAnswerAppliesOrIsRejectedWithTheRightReason) {
  for (const auto& c : load_cases()) {
    const std::string file = c["answer"];
    SCOPED_TRACE(file);
    const std::string answer = test::read_file(corpus_dir() + "/" + file);
    ASSERT_FALSE(answer.empty());
    const std::string parent = parent_source(c["parent"]);
    ASSERT_FALSE(parent.empty());
    const PatchResult r = apply_llm_answer(parent, answer);
    EXPECT_EQ(patch_error_name(r.error), c["expect"].get<std::string>()) << r.message;
    if (c.contains("message")) {
      EXPECT_NE(r.message.find(c["message"].get<std::string>()), std::string::npos) << r.message;
    }
    if (r.ok()) {
      EXPECT_GE(r.edits_applied, 1);
      // Outside the block nothing changed, and the block changed.
      EvolveBlock before, after;
      ASSERT_TRUE(find_evolve_block(parent, &before).ok());
      ASSERT_TRUE(find_evolve_block(r.source, &after).ok());
      EXPECT_EQ(r.source.substr(0, after.begin), parent.substr(0, before.begin));
      EXPECT_EQ(r.source.substr(after.end), parent.substr(before.end));
      EXPECT_NE(evolve_block_body(r.source), evolve_block_body(parent));
    } else {
      EXPECT_FALSE(r.message.empty());
      EXPECT_TRUE(r.source.empty());
    }
    for (const auto& s : c.value("contains", nlohmann::json::array()))
      EXPECT_NE(r.source.find(s.get<std::string>()), std::string::npos) << s << "\n" << r.source;
    for (const auto& s : c.value("absent", nlohmann::json::array()))
      EXPECT_EQ(r.source.find(s.get<std::string>()), std::string::npos) << s << "\n" << r.source;
  }
}

}  // namespace
}  // namespace adrs

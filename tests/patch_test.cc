// The patching primitives: the EVOLVE block, block replacement, normalization, line endings.
#include <gtest/gtest.h>

#include "driver/patch/patch.h"

namespace adrs {
namespace {

const std::string kParent =
    "#include \"masker_api.h\"\n// EVOLVE-BLOCK-START\nvoid select(const adrs::Row& row, adrs::Selection& out) {\n"
    "  out.add(0);\n}\n// EVOLVE-BLOCK-END\n// tail\n";

TEST(EvolveBlock, FindsTheBodyBetweenTheMarkerLines) {
  EvolveBlock b;
  ASSERT_TRUE(find_evolve_block(kParent, &b).ok());
  EXPECT_EQ(kParent.substr(b.begin, b.end - b.begin),
            "void select(const adrs::Row& row, adrs::Selection& out) {\n  out.add(0);\n}\n");
  EXPECT_EQ(evolve_block_body(kParent), kParent.substr(b.begin, b.end - b.begin));
}

TEST(EvolveBlock, RejectsMissingRepeatedOrReversedMarkers) {
  EvolveBlock b;
  EXPECT_FALSE(find_evolve_block("int x;\n", &b).ok());
  EXPECT_FALSE(find_evolve_block("// EVOLVE-BLOCK-START\n// EVOLVE-BLOCK-START\n// EVOLVE-BLOCK-END\n", &b).ok());
  EXPECT_FALSE(find_evolve_block("// EVOLVE-BLOCK-END\n// EVOLVE-BLOCK-START\n", &b).ok());
  EXPECT_FALSE(find_evolve_block("// EVOLVE-BLOCK-START EVOLVE-BLOCK-END\n", &b).ok());
  EXPECT_EQ(evolve_block_body("no markers"), "");
}

TEST(EvolveBlock, ReplaceKeepsTheOutsideAndAddsAFinalNewline) {
  const PatchResult r = replace_evolve_block(kParent, "void select(const adrs::Row&, adrs::Selection&) {}");
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.source, "#include \"masker_api.h\"\n// EVOLVE-BLOCK-START\nvoid select(const adrs::Row&, adrs::Selection&) {}\n"
                      "// EVOLVE-BLOCK-END\n// tail\n");
  EXPECT_EQ(replace_evolve_block(kParent, evolve_block_body(kParent)).error, PatchError::kNoChange);
  EXPECT_EQ(replace_evolve_block(kParent, "// EVOLVE-BLOCK-END\n").error, PatchError::kMarkersBroken);
  EXPECT_EQ(replace_evolve_block("int x;\n", "int y;\n").error, PatchError::kMarkersBroken);
}

TEST(EvolveBlock, CrlfParentKeepsItsLineEndings) {
  std::string crlf;
  for (char c : kParent) crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
  const PatchResult r = apply_llm_answer(crlf, "<<<<<<< SEARCH\n  out.add(0);\n=======\n  out.add(1);\n>>>>>>> REPLACE\n");
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_NE(r.source.find("  out.add(1);\r\n"), std::string::npos);
  EXPECT_EQ(r.source.find("\n\n"), std::string::npos);
}

TEST(Normalize, IgnoresCommentsWhitespaceAndLineEndingsButNotLiterals) {
  EXPECT_EQ(normalize_source("int  a =\t1; // one\r\n/* two */ int b;\n"), normalize_source("int a = 1;\nint b;"));
  EXPECT_NE(normalize_source("int a = 1;"), normalize_source("int a = 2;"));
  EXPECT_NE(normalize_source("const char* s = \"// x\";"), normalize_source("const char* s = \"\";"));
  EXPECT_EQ(normalize_source("f(\"a  b\");"), "f(\"a  b\");");
}

TEST(PatchErrors, EveryCodeHasAStableName) {
  EXPECT_STREQ(patch_error_name(PatchError::kNone), "none");
  EXPECT_STREQ(patch_error_name(PatchError::kSearchNotFound), "search_not_found");
  EXPECT_STREQ(patch_error_name(PatchError::kTruncated), "truncated");
}

TEST(PatchEdits, AreAppliedInOrderOnTheResultOfThePreviousOne) {
  const PatchResult r = apply_llm_answer(kParent,
                                         "<<<<<<< SEARCH\n  out.add(0);\n=======\n  out.add(1);\n>>>>>>> REPLACE\n"
                                         "<<<<<<< SEARCH\n  out.add(1);\n=======\n  out.add(2);\n>>>>>>> REPLACE\n");
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.edits_applied, 2);
  EXPECT_NE(r.source.find("out.add(2);"), std::string::npos);
}

TEST(PatchEdits, BrokenParentIsReported) {
  EXPECT_EQ(apply_llm_answer("int x;\n", "<<<<<<< SEARCH\nint x;\n=======\nint y;\n>>>>>>> REPLACE\n").error,
            PatchError::kMarkersBroken);
}

}  // namespace
}  // namespace adrs

// patch_parse: reading an LLM answer into SEARCH/REPLACE edits and fenced code blocks. Markers
// are found in the forms models write (more or fewer '<', lower case, fenced sections); a block
// that is cut off or missing its divider is an error that names the answer line.
#include "driver/patch/patch_parse.h"

#include <gtest/gtest.h>

namespace adrs::patch_internal {
namespace {

TEST(PatchParse, ReadsOneSearchReplaceBlockWithWholeLines) {
  const ParsedAnswer p = parse_llm_answer("Here is the change.\n<<<<<<< SEARCH\nint a = 1;\n=======\nint a = 2;\n"
                                          "int b = 3;\n>>>>>>> REPLACE\n");
  EXPECT_EQ(p.error, PatchError::kNone);
  ASSERT_EQ(p.edits.size(), 1u);
  EXPECT_EQ(p.edits[0].search, "int a = 1;\n");
  EXPECT_EQ(p.edits[0].replace, "int a = 2;\nint b = 3;\n");
  EXPECT_EQ(p.edits[0].line, 2);
}

TEST(PatchParse, ReadsSeveralBlocksInOrderWithTheirLines) {
  const ParsedAnswer p = parse_llm_answer("<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\ntext between\n"
                                          "<<<<<<< SEARCH\nc\n=======\n>>>>>>> REPLACE\n");
  ASSERT_EQ(p.edits.size(), 2u);
  EXPECT_EQ(p.edits[0].line, 1);
  EXPECT_EQ(p.edits[1].line, 7);
  EXPECT_EQ(p.edits[1].search, "c\n");
  EXPECT_EQ(p.edits[1].replace, "");  // an empty REPLACE deletes the lines
}

TEST(PatchParse, AcceptsMarkerVariantsModelsWrite) {
  const ParsedAnswer p = parse_llm_answer("  <<<<<<<<< search\nx\n=====\ny\n>>>>> Replace  \n");
  EXPECT_EQ(p.error, PatchError::kNone);
  ASSERT_EQ(p.edits.size(), 1u);
  EXPECT_EQ(p.edits[0].search, "x\n");
  EXPECT_EQ(p.edits[0].replace, "y\n");
}

TEST(PatchParse, FourAngleBracketsOrExtraWordsAreNotMarkers) {
  const ParsedAnswer p = parse_llm_answer("<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n<<<<<<< SEARCH here\n");
  EXPECT_EQ(p.error, PatchError::kNone);
  EXPECT_TRUE(p.edits.empty());
}

TEST(PatchParse, AFenceAroundASectionIsNotPartOfIt) {
  const ParsedAnswer p = parse_llm_answer("<<<<<<< SEARCH\n```cpp\nold();\n```\n=======\n```\nnew_call();\n```\n>>>>>>> REPLACE\n");
  ASSERT_EQ(p.edits.size(), 1u);
  EXPECT_EQ(p.edits[0].search, "old();\n");
  EXPECT_EQ(p.edits[0].replace, "new_call();\n");
}

TEST(PatchParse, AnAnswerCutOffInsideABlockIsTruncatedAndSaysWhichMarkerIsMissing) {
  ParsedAnswer p = parse_llm_answer("intro\n<<<<<<< SEARCH\na\n=======\nb\n");
  EXPECT_EQ(p.error, PatchError::kTruncated);
  EXPECT_EQ(p.message, "the SEARCH block at answer line 2 is unterminated (no >>>>>>> REPLACE): the answer looks cut off");
  p = parse_llm_answer("<<<<<<< SEARCH\na\n");
  EXPECT_EQ(p.message, "the SEARCH block at answer line 1 is unterminated (no =======): the answer looks cut off");
}

TEST(PatchParse, AMissingDividerNamesTheBlockAndTheLineOfTheNextMarker) {
  const ParsedAnswer p = parse_llm_answer("<<<<<<< SEARCH\na\nb\n>>>>>>> REPLACE\n");
  EXPECT_EQ(p.error, PatchError::kTruncated);
  EXPECT_EQ(p.message, "the SEARCH block at answer line 1 has no ======= divider before line 4; write <<<<<<< SEARCH, "
                       "the old lines, =======, the new lines, >>>>>>> REPLACE");
  EXPECT_TRUE(p.edits.empty());
}

TEST(PatchParse, ASearchInsideAReplaceNamesTheMissingEnd) {
  const ParsedAnswer p = parse_llm_answer("<<<<<<< SEARCH\na\n=======\nb\n<<<<<<< SEARCH\nc\n=======\nd\n>>>>>>> REPLACE\n");
  EXPECT_EQ(p.error, PatchError::kTruncated);
  EXPECT_EQ(p.message, "the SEARCH block at answer line 1 has no >>>>>>> REPLACE end before the next SEARCH at line 5");
}

TEST(PatchParse, CodeBlocksKeepTheirTextLineAndWhetherTheyWereClosed) {
  const ParsedAnswer p = parse_llm_answer("text\n```cpp\nint x;\n```\nmore\n~~~\ny();\n");
  ASSERT_EQ(p.code_blocks.size(), 2u);
  EXPECT_EQ(p.code_blocks[0].text, "int x;\n");
  EXPECT_EQ(p.code_blocks[0].line, 2);
  EXPECT_TRUE(p.code_blocks[0].closed);
  EXPECT_EQ(p.code_blocks[1].text, "y();\n");
  EXPECT_EQ(p.code_blocks[1].line, 6);
  EXPECT_FALSE(p.code_blocks[1].closed);
  EXPECT_TRUE(p.edits.empty());
}

TEST(PatchParse, UnifiedDiffHunksAreNoticed) {
  EXPECT_TRUE(parse_llm_answer("```diff\n@@ -1,2 +1,2 @@\n-a\n+b\n```\n").has_unified_diff);
  EXPECT_FALSE(parse_llm_answer("```\nint a = b @@ c;\n```\n").has_unified_diff);
}

TEST(PatchParse, LineEndingsBecomeLf) {
  EXPECT_EQ(to_lf("a\r\nb\rc\n"), "a\nb\nc\n");
  EXPECT_EQ(to_lf("\r\r\n"), "\n\n");
}

TEST(PatchParse, SplitLinesKeepsAFinalLineWithoutNewline) {
  EXPECT_EQ(split_lines("a\n\nb"), (std::vector<std::string>{"a", "", "b"}));
  EXPECT_EQ(split_lines("a\n"), (std::vector<std::string>{"a"}));
  EXPECT_TRUE(split_lines("").empty());
}

TEST(PatchParse, SquashedWhitespaceIgnoresIndentationAndSpacing) {
  EXPECT_EQ(squash_whitespace("\t  int   x =\t1;  "), "int x = 1;");
  EXPECT_EQ(squash_whitespace("    "), "");
}

}  // namespace
}  // namespace adrs::patch_internal

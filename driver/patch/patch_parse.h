// Reading an LLM answer: its SEARCH/REPLACE edits and its fenced code blocks. Internal to the
// patching module (driver/patch/patch.cc); exposed for its tests.
#pragma once

#include <string>
#include <vector>

#include "driver/patch/patch.h"

namespace adrs::patch_internal {

// One SEARCH/REPLACE edit. Both texts are whole lines, each ending in '\n' (empty when the
// section is empty). `line` is the 1-based answer line of the SEARCH marker, for messages.
struct SearchReplaceEdit {
  std::string search;
  std::string replace;
  int line = 0;
};

// A fenced code block (``` or ~~~). `closed` is false when the answer ends inside it.
struct CodeBlock {
  std::string text;
  int line = 0;
  bool closed = true;
  bool fenced = true;  // false: the whole answer, taken as code because it holds a marker
};

struct ParsedAnswer {
  std::vector<SearchReplaceEdit> edits;
  std::vector<CodeBlock> code_blocks;
  PatchError error = PatchError::kNone;  // kTruncated when a SEARCH/REPLACE block is unterminated
  std::string message;
  bool has_unified_diff = false;         // "@@ -a,b +c,d @@" hunks: a format we do not apply
};

// `answer` must use '\n' line endings.
ParsedAnswer parse_llm_answer(const std::string& answer);

// CRLF and lone CR become LF.
std::string to_lf(const std::string& text);

// Splits into lines without their '\n'; a final line without '\n' is kept.
std::vector<std::string> split_lines(const std::string& text);

// Trimmed, with every whitespace run collapsed to one space: the form used to match lines that
// differ only in indentation (tabs vs spaces) or spacing.
std::string squash_whitespace(const std::string& line);

}  // namespace adrs::patch_internal

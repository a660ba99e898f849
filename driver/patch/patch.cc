#include "driver/patch/patch.h"

#include <algorithm>
#include <vector>

#include "driver/patch/patch_parse.h"

namespace adrs {
namespace {

using patch_internal::CodeBlock;
using patch_internal::ParsedAnswer;
using patch_internal::SearchReplaceEdit;
using patch_internal::split_lines;
using patch_internal::squash_whitespace;
using patch_internal::to_lf;

constexpr const char* kStart = "EVOLVE-BLOCK-START";
constexpr const char* kEnd = "EVOLVE-BLOCK-END";

PatchResult fail(PatchError error, std::string message) {
  PatchResult r;
  r.error = error;
  r.message = std::move(message);
  return r;
}

size_t count_of(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t p = text.find(needle); p != std::string::npos; p = text.find(needle, p + 1)) ++n;
  return n;
}

// First line of `text` (squashed, at most 60 characters): names an edit in messages.
std::string first_line(const std::string& text) {
  for (const auto& l : split_lines(text)) {
    std::string s = squash_whitespace(l);
    if (s.empty()) continue;
    if (s.size() > 60) s = s.substr(0, 57) + "...";
    return s;
  }
  return "";
}

struct Match {
  size_t begin = 0, end = 0;   // matched byte range of the current text
  std::string replacement;     // the text that takes its place
};

std::string leading_ws(const std::string& line) {
  size_t i = 0;
  while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
  return line.substr(0, i);
}

// Re-indents `replace` from the search's indentation to the file's: a model that wrote tabs
// where the file has spaces (or lost a level) gets its new lines indented like the file.
std::string reindent(const std::string& replace, const std::string& from, const std::string& to) {
  if (from == to) return replace;
  std::string out;
  for (const auto& line : split_lines(replace)) {
    if (line.rfind(from, 0) == 0 && !squash_whitespace(line).empty())
      out += to + line.substr(from.size()) + "\n";
    else
      out += line + "\n";
  }
  return out;
}

// Every place `edit.search` matches in `text`: exact matches if there are any, else matches of
// whole lines compared with whitespace squashed (tabs vs spaces, trailing blanks, CRLF remnants).
std::vector<Match> find_matches(const std::string& text, const SearchReplaceEdit& edit) {
  std::vector<Match> matches;
  for (size_t p = text.find(edit.search); p != std::string::npos; p = text.find(edit.search, p + 1))
    matches.push_back({p, p + edit.search.size(), edit.replace});
  if (!matches.empty()) return matches;

  std::vector<std::string> wanted;
  std::string search_indent;
  for (const auto& l : split_lines(edit.search)) wanted.push_back(squash_whitespace(l));
  // Blank lines at either end of a SEARCH are layout, not content.
  size_t first = 0, last = wanted.size();
  while (first < last && wanted[first].empty()) ++first;
  while (last > first && wanted[last - 1].empty()) --last;
  if (first == last) return matches;
  search_indent = leading_ws(split_lines(edit.search)[first]);
  wanted = std::vector<std::string>(wanted.begin() + first, wanted.begin() + last);

  const auto lines = split_lines(text);
  std::vector<size_t> offsets(lines.size() + 1, 0);
  for (size_t i = 0; i < lines.size(); ++i)
    offsets[i + 1] = std::min(text.size(), offsets[i] + lines[i].size() + 1);
  for (size_t i = 0; i + wanted.size() <= lines.size(); ++i) {
    bool ok = true;
    for (size_t k = 0; ok && k < wanted.size(); ++k) ok = squash_whitespace(lines[i + k]) == wanted[k];
    if (ok)
      matches.push_back({offsets[i], offsets[i + wanted.size()], reindent(edit.replace, search_indent, leading_ws(lines[i]))});
  }
  return matches;
}

// The bytes a match really changes: the replacement minus what it shares with the matched text
// at both ends. A SEARCH that quotes the marker line but changes only the body is inside.
std::pair<size_t, size_t> changed_range(const std::string& text, const Match& m) {
  const std::string old = text.substr(m.begin, m.end - m.begin);
  const std::string& now = m.replacement;
  size_t prefix = 0;
  while (prefix < old.size() && prefix < now.size() && old[prefix] == now[prefix]) ++prefix;
  size_t suffix = 0;
  while (suffix < old.size() - prefix && suffix < now.size() - prefix &&
         old[old.size() - 1 - suffix] == now[now.size() - 1 - suffix])
    ++suffix;
  return {m.begin + prefix, m.end - suffix};
}

int line_of(const std::string& text, size_t offset) {
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + std::min(offset, text.size()), '\n'));
}

PatchResult apply_edits(const std::string& parent, const std::vector<SearchReplaceEdit>& edits) {
  std::string text = parent;
  EvolveBlock original;
  if (Status s = find_evolve_block(parent, &original); !s.ok()) return fail(PatchError::kMarkersBroken, s.message());
  for (size_t i = 0; i < edits.size(); ++i) {
    const SearchReplaceEdit& edit = edits[i];
    const std::string name = "SEARCH #" + std::to_string(i + 1) + " (answer line " + std::to_string(edit.line) + ")";
    if (squash_whitespace(edit.search).empty())
      return fail(PatchError::kSearchNotFound, name + " is empty; quote the exact lines to replace");
    EvolveBlock block;
    if (Status s = find_evolve_block(text, &block); !s.ok()) return fail(PatchError::kMarkersBroken, s.message());
    const std::vector<Match> all = find_matches(text, edit);
    if (all.empty())
      return fail(PatchError::kSearchNotFound, name + " starting '" + first_line(edit.search) +
                                                   "' matches nowhere in the current source, even ignoring whitespace; "
                                                   "copy the lines exactly from the source shown");
    std::vector<Match> inside;
    for (const Match& m : all) {
      const auto [b, e] = changed_range(text, m);
      if (b >= block.begin && e <= block.end) inside.push_back(m);
    }
    if (inside.empty())
      return fail(PatchError::kOutsideBlock, name + " starting '" + first_line(edit.search) + "' changes line " +
                                                 std::to_string(line_of(text, all.front().begin)) +
                                                 ", outside the EVOLVE block; only the text between "
                                                 "EVOLVE-BLOCK-START and EVOLVE-BLOCK-END may change");
    if (inside.size() > 1)
      return fail(PatchError::kAmbiguousSearch, name + " starting '" + first_line(edit.search) + "' matches " +
                                                    std::to_string(inside.size()) + " places (lines " +
                                                    std::to_string(line_of(text, inside[0].begin)) + " and " +
                                                    std::to_string(line_of(text, inside[1].begin)) +
                                                    "); include more surrounding lines so it matches once");
    const Match& m = inside.front();
    text = text.substr(0, m.begin) + m.replacement + text.substr(m.end);
    EvolveBlock after;
    if (!find_evolve_block(text, &after).ok() || text.compare(0, after.begin, parent, 0, original.begin) != 0 ||
        text.compare(after.end, std::string::npos, parent, original.end) != 0)
      return fail(PatchError::kMarkersBroken, name + " adds or removes an EVOLVE-BLOCK marker; keep exactly one "
                                                     "EVOLVE-BLOCK-START and one EVOLVE-BLOCK-END");
  }
  PatchResult r;
  r.source = text;
  r.edits_applied = static_cast<int>(edits.size());
  return r;
}

// Blank-insensitive form of the text outside the block, to compare a whole-file answer with the
// parent: CRLF, trailing blanks and blank lines do not count as edits.
std::string outside_form(const std::string& text) {
  std::string out;
  for (const auto& l : split_lines(to_lf(text))) {
    const std::string s = squash_whitespace(l);
    if (!s.empty()) out += s + "\n";
  }
  return out;
}

bool defines_select(const std::string& code) { return code.find("select(") != std::string::npos; }

// An answer without SEARCH/REPLACE: a code block (or the answer itself) holding the EVOLVE block,
// or a whole file, or just the new block body.
PatchResult apply_code(const std::string& parent, const std::string& answer, const ParsedAnswer& parsed) {
  std::vector<CodeBlock> candidates = parsed.code_blocks;
  if (answer.find(kStart) != std::string::npos &&
      std::none_of(candidates.begin(), candidates.end(), [](const CodeBlock& c) { return c.text.find(kStart) != std::string::npos; }))
    candidates.push_back({answer, 1, true, false});  // unfenced: prose may surround the block

  // The last code block holding a marker wins: models show the old code first, the answer last.
  const CodeBlock* chosen = nullptr;
  for (const CodeBlock& c : candidates)
    if (c.text.find(kStart) != std::string::npos || c.text.find(kEnd) != std::string::npos) chosen = &c;
  if (chosen != nullptr) {
    const std::string& code = chosen->text;
    const size_t starts = count_of(code, kStart), ends = count_of(code, kEnd);
    if (starts == 1 && ends == 0)
      return fail(PatchError::kTruncated, "the code has EVOLVE-BLOCK-START but no EVOLVE-BLOCK-END: the answer looks cut off");
    if (starts != 1 || ends != 1 || code.find(kStart) > code.find(kEnd))
      return fail(PatchError::kMarkersBroken, "the code must hold exactly one EVOLVE-BLOCK-START followed by one EVOLVE-BLOCK-END");
    if (!chosen->closed) return fail(PatchError::kTruncated, "the code block is not closed: the answer looks cut off");
    EvolveBlock inner, outer;
    if (Status s = find_evolve_block(code, &inner); !s.ok()) return fail(PatchError::kMarkersBroken, s.message());
    if (Status s = find_evolve_block(parent, &outer); !s.ok()) return fail(PatchError::kMarkersBroken, s.message());
    const size_t start_line = code.rfind('\n', code.find(kStart));
    const std::string before = start_line == std::string::npos ? "" : code.substr(0, start_line);
    const std::string after = code.substr(code.find('\n', code.find(kEnd)) == std::string::npos ? code.size() : code.find('\n', code.find(kEnd)));
    const size_t parent_start_line = parent.rfind('\n', parent.find(kStart));
    const std::string parent_before = parent_start_line == std::string::npos ? "" : parent.substr(0, parent_start_line);
    const size_t parent_end_nl = parent.find('\n', parent.find(kEnd));
    const std::string parent_after = parent_end_nl == std::string::npos ? "" : parent.substr(parent_end_nl);
    const bool whole_file = chosen->fenced && (!outside_form(before).empty() || !outside_form(after).empty());
    if (whole_file && (outside_form(before) != outside_form(parent_before) || outside_form(after) != outside_form(parent_after)))
      return fail(PatchError::kOutsideBlock, "the answer's file differs from the parent outside the EVOLVE block "
                                             "(includes, comments or code around it); change only the block");
    return replace_evolve_block(parent, code.substr(inner.begin, inner.end - inner.begin));
  }

  if (parsed.has_unified_diff)
    return fail(PatchError::kNoEdits, "the answer is a unified diff (@@ hunks); answer with SEARCH/REPLACE blocks instead");
  for (auto it = candidates.rbegin(); it != candidates.rend(); ++it) {
    if (!defines_select(it->text)) continue;
    if (!it->closed) return fail(PatchError::kTruncated, "the code block is not closed: the answer looks cut off");
    if (it->text.find("masker_api.h") != std::string::npos)
      return fail(PatchError::kMarkersBroken, "the answer is a whole file without the EVOLVE-BLOCK markers; keep the "
                                              "// EVOLVE-BLOCK-START and // EVOLVE-BLOCK-END lines or send SEARCH/REPLACE blocks");
    return replace_evolve_block(parent, it->text);
  }
  if (!candidates.empty() && !candidates.back().closed)
    return fail(PatchError::kTruncated, "the answer ends inside a code block: it looks cut off");
  return fail(PatchError::kNoEdits, "the answer holds no SEARCH/REPLACE block and no code defining select(); "
                                    "answer with <<<<<<< SEARCH / ======= / >>>>>>> REPLACE blocks");
}

bool has_crlf(const std::string& text) { return text.find("\r\n") != std::string::npos; }

std::string to_crlf(const std::string& lf) {
  std::string out;
  for (char c : lf) {
    if (c == '\n') out += '\r';
    out += c;
  }
  return out;
}

// Shared ending: no-change detection and restoring the parent's line endings.
PatchResult finish(const std::string& parent_lf, bool crlf, PatchResult r) {
  if (!r.ok()) return r;
  if (r.source == parent_lf) return fail(PatchError::kNoChange, "the patched source equals the parent");
  if (normalize_source(r.source) == normalize_source(parent_lf))
    return fail(PatchError::kNoChange, "the patch changes only comments or whitespace; the candidate equals its parent");
  if (crlf) r.source = to_crlf(r.source);
  return r;
}

}  // namespace

const char* patch_error_name(PatchError error) {
  switch (error) {
    case PatchError::kNone: return "none";
    case PatchError::kNoEdits: return "no_edits";
    case PatchError::kSearchNotFound: return "search_not_found";
    case PatchError::kAmbiguousSearch: return "ambiguous_search";
    case PatchError::kOutsideBlock: return "outside_block";
    case PatchError::kMarkersBroken: return "markers_broken";
    case PatchError::kTruncated: return "truncated";
    case PatchError::kNoChange: return "no_change";
  }
  return "unknown";
}

Status find_evolve_block(const std::string& source, EvolveBlock* block) {
  const size_t starts = count_of(source, kStart), ends = count_of(source, kEnd);
  if (starts != 1 || ends != 1)
    return Status::Error("the source must hold exactly one EVOLVE-BLOCK-START and one EVOLVE-BLOCK-END line (found " +
                         std::to_string(starts) + " and " + std::to_string(ends) + ")");
  const size_t start = source.find(kStart), end = source.find(kEnd);
  if (start > end) return Status::Error("EVOLVE-BLOCK-END comes before EVOLVE-BLOCK-START");
  const size_t body_begin = source.find('\n', start);
  if (body_begin == std::string::npos || body_begin > end)
    return Status::Error("EVOLVE-BLOCK-START and EVOLVE-BLOCK-END must be on separate lines");
  const size_t end_line = source.rfind('\n', end);
  block->begin = body_begin + 1;
  block->end = end_line + 1;
  return Status::Ok();
}

PatchResult apply_llm_answer(const std::string& parent, const std::string& answer) {
  const bool crlf = has_crlf(parent);
  const std::string base = to_lf(parent);
  EvolveBlock block;
  if (Status s = find_evolve_block(base, &block); !s.ok())
    return fail(PatchError::kMarkersBroken, "the parent is broken: " + s.message());
  const std::string text = to_lf(answer);
  const ParsedAnswer parsed = patch_internal::parse_llm_answer(text);
  if (parsed.error != PatchError::kNone) return fail(parsed.error, parsed.message);
  if (!parsed.edits.empty()) return finish(base, crlf, apply_edits(base, parsed.edits));
  return finish(base, crlf, apply_code(base, text, parsed));
}

PatchResult replace_evolve_block(const std::string& parent, const std::string& body) {
  const bool crlf = has_crlf(parent);
  const std::string base = to_lf(parent);
  EvolveBlock block;
  if (Status s = find_evolve_block(base, &block); !s.ok())
    return fail(PatchError::kMarkersBroken, "the parent is broken: " + s.message());
  std::string lf = to_lf(body);
  if (lf.find(kStart) != std::string::npos || lf.find(kEnd) != std::string::npos)
    return fail(PatchError::kMarkersBroken, "the new block body contains an EVOLVE-BLOCK marker; send only the code between them");
  if (!lf.empty() && lf.back() != '\n') lf += '\n';
  PatchResult r;
  r.source = base.substr(0, block.begin) + lf + base.substr(block.end);
  r.edits_applied = 1;
  return finish(base, crlf, std::move(r));
}

std::string evolve_block_body(const std::string& source) {
  EvolveBlock block;
  if (!find_evolve_block(source, &block).ok()) return "";
  return source.substr(block.begin, block.end - block.begin);
}

std::string normalize_source(const std::string& source) {
  std::string out;
  bool pending_space = false;
  auto put = [&](char c) {
    if (pending_space && !out.empty()) out += ' ';
    pending_space = false;
    out += c;
  };
  for (size_t i = 0; i < source.size(); ++i) {
    const char c = source[i];
    if (c == '/' && i + 1 < source.size() && source[i + 1] == '/') {
      while (i < source.size() && source[i] != '\n') ++i;
      pending_space = true;
    } else if (c == '/' && i + 1 < source.size() && source[i + 1] == '*') {
      const size_t close = source.find("*/", i + 2);
      i = close == std::string::npos ? source.size() : close + 1;
      pending_space = true;
    } else if (c == '"' || c == '\'') {
      // Literals are copied verbatim: a "//" inside a string is not a comment.
      put(c);
      for (++i; i < source.size() && source[i] != c; ++i) {
        out += source[i];
        if (source[i] == '\\' && i + 1 < source.size()) out += source[++i];
      }
      if (i < source.size()) out += c;
    } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
      pending_space = true;
    } else {
      put(c);
    }
  }
  return out;
}

}  // namespace adrs

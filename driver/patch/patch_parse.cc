#include "driver/patch/patch_parse.h"

#include <cctype>

namespace adrs::patch_internal {
namespace {

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

// A marker line: at least five `c` then, optionally after spaces, `word` (case-insensitive), and
// nothing else. Models vary the count of '<' and '>' and sometimes lower-case the word.
bool is_marker(const std::string& line, char c, const char* word) {
  const std::string t = trim(line);
  size_t i = 0;
  while (i < t.size() && t[i] == c) ++i;
  if (i < 5) return false;
  while (i < t.size() && (t[i] == ' ' || t[i] == '\t')) ++i;
  const std::string rest = t.substr(i);
  const std::string w = word;
  if (rest.size() != w.size()) return false;
  for (size_t k = 0; k < w.size(); ++k)
    if (std::toupper(static_cast<unsigned char>(rest[k])) != w[k]) return false;
  return true;
}

bool is_search_start(const std::string& line) { return is_marker(line, '<', "SEARCH"); }
bool is_replace_end(const std::string& line) { return is_marker(line, '>', "REPLACE"); }
bool is_divider(const std::string& line) {
  const std::string t = trim(line);
  if (t.size() < 5) return false;
  for (char c : t)
    if (c != '=') return false;
  return true;
}

bool is_fence(const std::string& line) {
  const std::string t = trim(line);
  return t.rfind("```", 0) == 0 || t.rfind("~~~", 0) == 0;
}

// Models sometimes wrap a SEARCH or REPLACE section in its own code fence; the fence is not code.
std::string join_section(std::vector<std::string> lines) {
  if (!lines.empty() && is_fence(lines.front())) lines.erase(lines.begin());
  if (!lines.empty() && is_fence(lines.back())) lines.pop_back();
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

void parse_edits(const std::vector<std::string>& lines, ParsedAnswer* parsed) {
  enum class State { kOutside, kSearch, kReplace } state = State::kOutside;
  std::vector<std::string> search, replace;
  int start_line = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    const int number = static_cast<int>(i) + 1;
    switch (state) {
      case State::kOutside:
        if (is_search_start(line)) {
          state = State::kSearch;
          start_line = number;
          search.clear();
          replace.clear();
        }
        break;
      case State::kSearch:
        if (is_divider(line)) {
          state = State::kReplace;
        } else if (is_search_start(line) || is_replace_end(line)) {
          parsed->error = PatchError::kTruncated;
          parsed->message = "the SEARCH block at answer line " + std::to_string(start_line) +
                            " has no ======= divider before line " + std::to_string(number) +
                            "; write <<<<<<< SEARCH, the old lines, =======, the new lines, >>>>>>> REPLACE";
          return;
        } else {
          search.push_back(line);
        }
        break;
      case State::kReplace:
        if (is_replace_end(line)) {
          parsed->edits.push_back({join_section(search), join_section(replace), start_line});
          state = State::kOutside;
        } else if (is_search_start(line)) {
          parsed->error = PatchError::kTruncated;
          parsed->message = "the SEARCH block at answer line " + std::to_string(start_line) +
                            " has no >>>>>>> REPLACE end before the next SEARCH at line " + std::to_string(number);
          return;
        } else {
          replace.push_back(line);
        }
        break;
    }
  }
  if (state != State::kOutside) {
    parsed->error = PatchError::kTruncated;
    parsed->message = "the SEARCH block at answer line " + std::to_string(start_line) + " is unterminated (no " +
                      (state == State::kSearch ? std::string("=======") : std::string(">>>>>>> REPLACE")) +
                      "): the answer looks cut off";
  }
}

void parse_code_blocks(const std::vector<std::string>& lines, ParsedAnswer* parsed) {
  bool inside = false;
  CodeBlock block;
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string t = trim(lines[i]);
    if (!inside && is_fence(t)) {
      inside = true;
      block = CodeBlock{};
      block.line = static_cast<int>(i) + 1;
    } else if (inside && (t == "```" || t == "~~~")) {
      inside = false;
      parsed->code_blocks.push_back(block);
    } else if (inside) {
      block.text += lines[i] + "\n";
    }
    if (t.rfind("@@ -", 0) == 0 && t.find(" @@") != std::string::npos) parsed->has_unified_diff = true;
  }
  if (inside) {
    block.closed = false;
    parsed->code_blocks.push_back(block);
  }
}

}  // namespace

std::string to_lf(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r') {
      out += '\n';
      if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
    } else {
      out += text[i];
    }
  }
  return out;
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) {
      lines.push_back(text.substr(pos));
      break;
    }
    lines.push_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return lines;
}

std::string squash_whitespace(const std::string& line) {
  std::string out;
  bool space = false;
  for (char c : line) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      space = true;
    } else {
      if (space && !out.empty()) out += ' ';
      space = false;
      out += c;
    }
  }
  return out;
}

ParsedAnswer parse_llm_answer(const std::string& answer) {
  ParsedAnswer parsed;
  const auto lines = split_lines(answer);
  parse_edits(lines, &parsed);
  parse_code_blocks(lines, &parsed);
  return parsed;
}

}  // namespace adrs::patch_internal

#include "driver/patch/text_diff.h"

#include <algorithm>
#include <sstream>
#include <vector>

namespace adrs {

namespace {
std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::stringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}
}  // namespace

std::string line_diff(const std::string& before, const std::string& after, int context) {
  const std::vector<std::string> a = split_lines(before), b = split_lines(after);
  const size_t n = a.size(), m = b.size();
  // Longest common subsequence table, from the ends (sources are a few hundred lines at most).
  std::vector<std::vector<int>> lcs(n + 1, std::vector<int>(m + 1, 0));
  for (size_t i = n; i-- > 0;)
    for (size_t j = m; j-- > 0;) lcs[i][j] = a[i] == b[j] ? lcs[i + 1][j + 1] + 1 : std::max(lcs[i + 1][j], lcs[i][j + 1]);
  struct Line {
    char tag;
    std::string text;
  };
  std::vector<Line> script;
  size_t i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] == b[j]) script.push_back({' ', a[i++]}), ++j;
    else if (j < m && (i == n || lcs[i][j + 1] >= lcs[i + 1][j])) script.push_back({'+', b[j++]});
    else script.push_back({'-', a[i++]});
  }
  std::vector<bool> show(script.size(), false);
  bool changed = false;
  for (size_t k = 0; k < script.size(); ++k)
    if (script[k].tag != ' ') {
      changed = true;
      const size_t lo = k >= static_cast<size_t>(context) ? k - context : 0;
      const size_t hi = std::min(script.size(), k + context + 1);
      for (size_t x = lo; x < hi; ++x) show[x] = true;
    }
  if (!changed) return "";
  std::string out;
  bool gap = true;
  for (size_t k = 0; k < script.size(); ++k) {
    if (!show[k]) {
      gap = true;
      continue;
    }
    if (gap) out += "@@\n";
    gap = false;
    out += script[k].tag + script[k].text + "\n";
  }
  return out;
}

}  // namespace adrs

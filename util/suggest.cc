#include "util/suggest.h"

#include <algorithm>
#include <cctype>

namespace adrs {
namespace {

std::string fold(const std::string& name) {
  std::string out;
  for (char c : name) {
    if (c == '-' || c == '_') out += '_';
    else out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  size_t start = out.find_first_not_of('_');  // "--max" and "max" are the same name
  return start == std::string::npos ? "" : out.substr(start);
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

std::string closest_name(const std::string& typed, const std::vector<std::string>& candidates) {
  const std::string t = fold(typed);
  std::string best;
  size_t best_distance = std::max<size_t>(2, t.size() / 3) + 1;
  for (const std::string& c : candidates) {
    const std::string f = fold(c);
    // A prefix of a longer name ("max_cand") is a plausible typo too.
    const size_t d = f.rfind(t, 0) == 0 && t.size() >= 4 ? std::min<size_t>(1, f.size() - t.size()) : edit_distance(t, f);
    if (d < best_distance) best = c, best_distance = d;
  }
  return best;
}

std::string did_you_mean(const std::string& typed, const std::vector<std::string>& candidates) {
  const std::string best = closest_name(typed, candidates);
  return best.empty() ? "" : " (did you mean '" + best + "'?)";
}

}  // namespace adrs

// Line diffs for `adrs show --diff`: what a candidate changed relative to its parent.
#pragma once

#include <string>

namespace adrs {

// A unified-style diff of `before` -> `after` ("-" removed, "+" added lines, `context` unchanged
// lines around each change, "@@" between hunks). "" when the texts are equal.
std::string line_diff(const std::string& before, const std::string& after, int context = 3);

}  // namespace adrs

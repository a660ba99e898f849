// Did-you-mean: the known name closest to a misspelt one, for error messages ("unknown key
// max_candidate; did you mean max_candidates?"). Case, '-' and '_' do not count as differences,
// so --max_candidates finds --max-candidates.
#pragma once

#include <string>
#include <vector>

namespace adrs {

// The candidate nearest to `typed` (edit distance after folding case, '-' and '_'), or "" when
// none is close enough to be a plausible typo (at most a third of the name, at least 2 edits).
std::string closest_name(const std::string& typed, const std::vector<std::string>& candidates);

// " (did you mean 'X'?)" or "".
std::string did_you_mean(const std::string& typed, const std::vector<std::string>& candidates);

}  // namespace adrs

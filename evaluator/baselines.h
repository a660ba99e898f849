// Baseline maskers: the published methods in masker_template/baselines/*.cpp, loaded in a fixed
// order (weakest family first) and scored through the normal evaluator like any candidate.
// Used by `adrs leaderboard` (every baseline at several densities) and `adrs report` (the
// baselines beside a run's candidates, at the run's setting).
#pragma once

#include <string>
#include <vector>

#include "evaluator/evaluator.h"
#include "util/status.h"

namespace adrs {

struct Baseline {
  std::string name;    // file stem, e.g. "oracle_topk"
  std::string source;
};

// The folder of the shipped baselines (masker_template/baselines of this build's source tree).
std::string default_baselines_dir();

// Every *.cpp of `dir` in the leaderboard's order (unknown names last, alphabetically). `only`
// (names without .cpp) keeps those; naming one that does not exist is an error.
Status load_baselines(const std::string& dir, const std::vector<std::string>& only, std::vector<Baseline>* out);

// The track a baseline can compete on: "oracle" when it reads the exact scores (row.scores) or the
// raw keys (row.keys), which the blind track withholds; "blind" when it reads keys only through the
// counted accessors of masker_api.h. A blind leaderboard refuses oracle baselines.
std::string baseline_track(const Baseline& baseline);

struct BaselineResult {
  std::string baseline;
  double target_density = 0.0;
  EvalResult result;
};

// Scores each baseline with `evaluator` (its workload, target density and seed). With `progress`,
// one line per baseline goes to stderr, numbered "[done+1/total]" so that callers scoring several
// settings count on across them.
struct BaselineProgress {
  size_t done = 0, total = 0;
};
std::vector<BaselineResult> score_baselines(Evaluator& evaluator, const std::vector<Baseline>& baselines,
                                            BaselineProgress* progress);

}  // namespace adrs

// Population: the in-memory view of a run's finished candidates that parent selection works on —
// islands with periodic ring migration, a MAP-Elites grid over two features, an elite archive.
//
// It is rebuilt from the run database by adding terminal rows in id order, and it changes only
// through add(); selection is a pure function of that state and an RNG. So the choices for
// candidate i depend only on rows 1..i-parallel and the run seed: an interrupted and resumed run
// makes the same choices as an uninterrupted one.
// Failed, filtered and duplicate candidates are never parents (they count as their parent's
// children, so a parent whose children keep failing loses its few-children bonus).
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "driver/propose/proposer.h"
#include "driver/run/run_config.h"
#include "driver/run/run_db.h"
#include "util/random.h"

namespace adrs {

struct Member {
  int64_t id = 0;
  int island = 0;
  double score = 0.0;
  double stage1_score = NAN;
  double features[2] = {0, 0};
  int children = 0;
};

// What the loop asks the proposer for, decided at selection time.
struct Choice {
  int64_t parent_id = 0;
  int island = 0;
  MutationKind kind = MutationKind::kDiff;
  bool use_tuner = false;               // LLM runs with tune_constants: the offline tuner proposes
  std::vector<int64_t> inspiration_ids;  // best first, then a diverse grid elite
  std::optional<int64_t> fix_up_of;      // the failed child to repair (kFixUp)
  std::optional<double> stage1_threshold;
  std::vector<AttemptView> recent_attempts;
};

// The "blocks" feature of a source in [0, 1] (how many building blocks it is made of). Given by
// the caller, so the population knows nothing of a proposer's source format; absent: 0.
using SourceFeature = std::function<double(const std::string& source)>;

class Population {
 public:
  explicit Population(const RunConfig& config, bool proposer_fixes_up = false, SourceFeature blocks_feature = {});

  // Adds a terminal row (after all smaller ids). `resolved` is the row whose result counts: the
  // row itself, or for a duplicate the earlier row it points to.
  void add(const CandidateRow& row, const CandidateRow& resolved);

  // Chooses parent, mutation and inspirations for candidate `id`. Requires a non-empty population.
  Choice choose(int64_t id, uint64_t run_seed) const;

  bool empty() const { return members_.empty(); }
  int64_t added() const { return added_; }          // terminal rows added
  std::optional<int64_t> best_id() const { return best_id_; }
  double best_score() const { return best_score_; }
  int64_t last_improvement_id() const { return last_improvement_id_; }
  double total_cost() const { return cost_; }
  const std::map<int64_t, Member>& members() const { return members_; }
  int grid_cells_filled() const { return static_cast<int>(grid_.size()); }
  int64_t migrations() const { return migrations_; }

 private:
  void migrate();
  int64_t choose_parent(SplitMix& rng, int island) const;
  void choose_kind(SplitMix& rng, Choice* c) const;
  void choose_inspirations(SplitMix& rng, Choice* c) const;
  std::optional<double> stage1_threshold(int island) const;
  int cell_of(const Member& m) const;
  double feature(const std::string& name, const CandidateRow& row) const;

  RunConfig config_;
  bool fix_up_ = false;
  SourceFeature blocks_feature_;
  std::map<int64_t, Member> members_;
  std::vector<std::vector<int64_t>> islands_;
  std::vector<std::set<std::string>> island_hashes_;
  std::map<int64_t, std::string> hash_of_;
  std::set<std::string> member_hashes_;
  std::map<int, int64_t> grid_;                            // cell -> best member
  std::map<int64_t, std::vector<AttemptView>> attempts_;   // parent -> recent children
  std::vector<std::vector<std::pair<int64_t, int64_t>>> island_failures_;  // (failed id, its parent)
  std::set<int64_t> fixed_;
  int64_t added_ = 0, migrations_ = 0;
  std::optional<int64_t> best_id_;
  double best_score_ = -INFINITY;
  int64_t last_improvement_id_ = 0;
  double improvement_score_ = -INFINITY, improvement_std_ = 0.0;  // the last significant improvement
  double cost_ = 0.0;
};

}  // namespace adrs

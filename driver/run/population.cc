#include "driver/run/population.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <fmt/format.h>

#include "driver/patch/patch.h"
#include "driver/run/suite.h"
#include "util/hash.h"
#include "util/random.h"

namespace adrs {

namespace {
constexpr size_t kRecentAttempts = 5;
constexpr size_t kRecentFailures = 8;
constexpr double kFixUpShare = 0.15;  // of proposals, when the proposer can repair failures
constexpr int kExploitPool = 5;       // exploitation picks among the island's best few

std::string format_score(double score) {
  return fmt::format("ok, score {:.6f}", score);
}

// The failed candidate a fix-up child repaired (recorded in its request), if any.
std::optional<int64_t> fix_up_target(const CandidateRow& row) {
  MutationKind kind = MutationKind::kDiff;
  if (!parse_mutation_kind(row.mutation, &kind) || kind != MutationKind::kFixUp || row.request_json.empty()) return std::nullopt;
  const nlohmann::json request = nlohmann::json::parse(row.request_json, nullptr, false);
  if (!request.is_object() || !request.contains("fix_up_of") || !request["fix_up_of"].is_number_integer()) return std::nullopt;
  return request["fix_up_of"].get<int64_t>();
}

bool fixable(const std::string& failure) {
  return failure == "compile_error" || failure == "crashed" || failure == "exception" || failure == "invalid_mask" ||
         failure == "timeout" || failure == "bad_masker";
}
}  // namespace

Population::Population(const RunConfig& config, bool proposer_fixes_up, SourceFeature blocks_feature)
    : config_(config), fix_up_(proposer_fixes_up), blocks_feature_(std::move(blocks_feature)), islands_(config.islands), island_hashes_(config.islands),
      island_failures_(config.islands) {}

double Population::feature(const std::string& name, const CandidateRow& row) const {
  if (name == "density") return row.density.value_or(0.0) / (2.0 * config_.target_density);
  if (name == "error") return row.error.value_or(1.0);
  if (name == "blocks") return blocks_feature_ ? blocks_feature_(row.source) : 0.0;
  // code_length: log scale, 256 B .. 16 KiB of normalized source.
  const double length = std::max<double>(1.0, static_cast<double>(normalize_source(row.source).size()));
  return (std::log2(length) - 8.0) / 6.0;
}

int Population::cell_of(const Member& m) const {
  auto bin = [&](double f) { return std::clamp(static_cast<int>(f * config_.grid_bins), 0, config_.grid_bins - 1); };
  return bin(m.features[0]) * config_.grid_bins + bin(m.features[1]);
}

void Population::add(const CandidateRow& row, const CandidateRow& resolved) {
  ++added_;
  cost_ += row.cost_usd;
  // A score that is not finite (NaN compares false both ways) would break every sort and the
  // MAP-Elites grid; such a candidate counts as failed here, whatever its row says.
  const bool ok = resolved.status == CandidateStatus::kEvaluated && resolved.score.has_value() && std::isfinite(*resolved.score);
  if (row.parent_id) {
    if (auto parent = members_.find(*row.parent_id); parent != members_.end()) ++parent->second.children;
    MutationKind kind = MutationKind::kDiff;
    parse_mutation_kind(row.mutation, &kind);
    AttemptView attempt{row.id, kind, "", ok ? *resolved.score : 0.0};
    if (row.status == CandidateStatus::kDuplicate) attempt.outcome = "duplicate of candidate " + std::to_string(resolved.id) + " (";
    attempt.outcome += ok ? format_score(*resolved.score) : (resolved.failure.empty() ? std::string(candidate_status_name(resolved.status)) : resolved.failure) + ": " + resolved.message.substr(0, 300);
    if (row.status == CandidateStatus::kDuplicate) attempt.outcome += ")";
    auto& list = attempts_[*row.parent_id];
    list.push_back(attempt);
    if (list.size() > kRecentAttempts) list.erase(list.begin());
  }
  if (auto target = fix_up_target(row)) fixed_.insert(*target);
  if (!ok) {
    if (row.status == CandidateStatus::kFailed && fixable(row.failure) && row.parent_id && row.island < config_.islands) {
      auto& failures = island_failures_[row.island];
      failures.push_back({row.id, *row.parent_id});
      if (failures.size() > kRecentFailures) failures.erase(failures.begin());
    }
    return;
  }
  const double score = *resolved.score;
  // Patience counts from the last significant improvement: one that beats the best so far by
  // more than the seed noise of the two and the configured margin.
  const double score_std = resolved.score_std.value_or(0.0);
  if (!best_id_ || significantly_better(score, score_std, improvement_score_, improvement_std_, config_.improvement_margin)) {
    last_improvement_id_ = row.id;
    improvement_score_ = score;
    improvement_std_ = score_std;
  }
  if (score > best_score_) {
    best_score_ = score;
    best_id_ = resolved.id;
  }
  // A copy of an earlier member (same normalized source) adds nothing new.
  if (!member_hashes_.insert(resolved.source_hash).second) return;
  Member m;
  m.id = row.id;
  m.island = std::clamp(row.island, 0, config_.islands - 1);
  m.score = score;
  m.stage1_score = row.stage1_score.value_or(NAN);
  m.features[0] = feature(config_.feature_x, resolved);
  m.features[1] = feature(config_.feature_y, resolved);
  members_[m.id] = m;
  hash_of_[m.id] = resolved.source_hash;
  islands_[m.island].push_back(m.id);
  island_hashes_[m.island].insert(resolved.source_hash);
  const int cell = cell_of(m);
  auto [slot, inserted] = grid_.try_emplace(cell, m.id);
  if (!inserted && members_[slot->second].score < m.score) slot->second = m.id;
  if (config_.migration_interval > 0 && config_.islands > 1 && added_ % config_.migration_interval == 0) migrate();
}

// Ring migration: each island's best moves (as a shared member) to the next island, unless that
// island already holds the same source.
void Population::migrate() {
  ++migrations_;
  std::vector<int64_t> best(islands_.size(), -1);
  for (size_t i = 0; i < islands_.size(); ++i)
    for (int64_t id : islands_[i])
      if (best[i] < 0 || members_[id].score > members_[best[i]].score) best[i] = id;
  for (size_t i = 0; i < islands_.size(); ++i) {
    if (best[i] < 0) continue;
    const size_t to = (i + 1) % islands_.size();
    if (island_hashes_[to].insert(hash_of_[best[i]]).second) islands_[to].push_back(best[i]);
  }
}

namespace {

// Member ids, best score first (ties: the smaller id).
std::vector<int64_t> by_score(std::vector<int64_t> ids, const std::map<int64_t, Member>& members) {
  std::sort(ids.begin(), ids.end(), [&](int64_t a, int64_t b) {
    const double sa = members.at(a).score, sb = members.at(b).score;
    return sa != sb ? sa > sb : a < b;
  });
  return ids;
}

int64_t random_grid_elite(SplitMix& rng, const std::map<int, int64_t>& grid) {
  auto cell = grid.begin();
  std::advance(cell, rng.below(static_cast<int>(grid.size())));
  return cell->second;
}

// Exploitation: among the pool's best few, rank weight times a bonus for parents with few children.
int64_t exploit(SplitMix& rng, const std::vector<int64_t>& pool, const std::map<int64_t, Member>& members) {
  const int count = std::min<int>(kExploitPool, static_cast<int>(pool.size()));
  std::vector<double> weights(count);
  double total = 0;
  for (int i = 0; i < count; ++i) total += weights[i] = 1.0 / (1 + i) / (1.0 + 0.5 * members.at(pool[i]).children);
  double pick = rng.uniform() * total;
  for (int i = 0; i < count; ++i)
    if ((pick -= weights[i]) < 0) return pool[i];
  return pool[count - 1];
}

}  // namespace

// The parent: exploit the island's best, explore the island at random, or take a grid elite.
// (The order of the draws is part of the run's determinism: resume replays it.)
int64_t Population::choose_parent(SplitMix& rng, int island) const {
  std::vector<int64_t> pool = islands_[island];
  if (pool.empty())  // early on an island may still be empty: borrow from everyone
    for (const auto& [mid, m] : members_) pool.push_back(mid);
  pool = by_score(std::move(pool), members_);
  const double r = rng.uniform();
  if (r < config_.exploit_ratio) return exploit(rng, pool, members_);
  if (r < config_.exploit_ratio + config_.explore_ratio || grid_.empty()) return pool[rng.below(static_cast<int>(pool.size()))];
  return random_grid_elite(rng, grid_);
}

// The mutation kind; an LLM run's constant tuning and a fix-up of a recent failure override it.
void Population::choose_kind(SplitMix& rng, Choice* c) const {
  const double k = rng.uniform();
  c->kind = k < config_.rewrite_ratio                            ? MutationKind::kFullRewrite
            : k < config_.rewrite_ratio + config_.crossover_ratio ? MutationKind::kCrossover
                                                                  : MutationKind::kDiff;
  if (config_.proposer != "offline" && config_.tune_constants && rng.uniform() < config_.tune_ratio) {
    c->use_tuner = true;
    c->kind = MutationKind::kDiff;
    c->parent_id = best_id_ ? *best_id_ : c->parent_id;
  }
  const auto& failures = island_failures_[c->island];
  if (!fix_up_ || c->use_tuner || failures.empty() || rng.uniform() >= kFixUpShare) return;
  for (auto it = failures.rbegin(); it != failures.rend(); ++it)
    if (!fixed_.count(it->first) && members_.count(it->second)) {
      c->kind = MutationKind::kFixUp;
      c->fix_up_of = it->first;
      c->parent_id = it->second;
      return;
    }
}

// Inspirations: the best others, then one random grid elite for diversity.
void Population::choose_inspirations(SplitMix& rng, Choice* c) const {
  std::vector<int64_t> ranked;
  for (const auto& [mid, m] : members_) ranked.push_back(mid);
  ranked = by_score(std::move(ranked), members_);
  if (ranked.size() > static_cast<size_t>(config_.archive_size)) ranked.resize(config_.archive_size);
  for (int64_t mid : ranked)
    if (mid != c->parent_id && static_cast<int>(c->inspiration_ids.size()) + 1 < std::max(1, config_.inspirations))
      c->inspiration_ids.push_back(mid);
  if (config_.inspirations <= 0 || grid_.empty()) return;
  const int64_t elite = random_grid_elite(rng, grid_);
  if (elite != c->parent_id && std::find(c->inspiration_ids.begin(), c->inspiration_ids.end(), elite) == c->inspiration_ids.end())
    c->inspiration_ids.push_back(elite);
}

// The cascade: the stage-1 score a child of this island needs to go on.
std::optional<double> Population::stage1_threshold(int island) const {
  double best_stage1 = -INFINITY;
  for (int64_t mid : islands_[island]) {
    const double s1 = members_.at(mid).stage1_score;
    if (!std::isnan(s1)) best_stage1 = std::max(best_stage1, s1);
  }
  if (!std::isfinite(best_stage1)) return std::nullopt;
  return best_stage1 - config_.cascade_margin;
}

Choice Population::choose(int64_t id, uint64_t run_seed) const {
  SplitMix rng(combine_seed(run_seed, static_cast<uint64_t>(id)));
  Choice c;
  c.island = static_cast<int>(id % config_.islands);
  c.parent_id = choose_parent(rng, c.island);
  choose_kind(rng, &c);
  choose_inspirations(rng, &c);
  if (auto it = attempts_.find(c.parent_id); it != attempts_.end()) c.recent_attempts = it->second;
  if (config_.cascade) c.stage1_threshold = stage1_threshold(c.island);
  return c;
}

}  // namespace adrs

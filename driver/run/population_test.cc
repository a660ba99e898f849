// Population: parent selection over islands and the MAP-Elites grid, tested directly (no run, no
// process): the same rows and seed give the same choices, failures are never parents, and the
// "blocks" feature comes from the caller.
#include "driver/run/population.h"

#include <gtest/gtest.h>

namespace adrs {
namespace {

CandidateRow row_of(int64_t id, CandidateStatus status, double score, int island = 0) {
  CandidateRow row;
  row.id = id;
  if (id > 1) row.parent_id = 1;
  row.island = island;
  row.mutation = id == 1 ? "seed" : "diff";
  row.status = status;
  if (status == CandidateStatus::kEvaluated) {
    row.score = score;
    row.error = -score;
    row.density = 0.1;
  } else {
    row.failure = "compile_error";
  }
  row.source = "// source " + std::to_string(id);
  row.source_hash = "hash" + std::to_string(id);
  return row;
}

Population filled(const RunConfig& config, SourceFeature blocks = {}) {
  Population population(config, false, std::move(blocks));
  for (int64_t id = 1; id <= 12; ++id) {
    const CandidateStatus status = id % 3 == 0 ? CandidateStatus::kFailed : CandidateStatus::kEvaluated;
    const CandidateRow row = row_of(id, status, -1.0 + 0.01 * static_cast<double>(id), static_cast<int>(id % 2));
    population.add(row, row);
  }
  return population;
}

TEST(Population, TheSameRowsAndSeedGiveTheSameChoices) {
  RunConfig config;
  const Population a = filled(config), b = filled(config);
  for (int64_t id = 13; id < 40; ++id) {
    const Choice x = a.choose(id, 11), y = b.choose(id, 11);
    EXPECT_EQ(x.parent_id, y.parent_id) << "candidate " << id;
    EXPECT_EQ(x.kind, y.kind) << "candidate " << id;
    EXPECT_EQ(x.inspiration_ids, y.inspiration_ids) << "candidate " << id;
  }
}

TEST(Population, FailedCandidatesAreNeverMembersNorParents) {
  RunConfig config;
  const Population population = filled(config);
  for (const auto& [id, member] : population.members()) EXPECT_NE(id % 3, 0) << "failed candidate " << id << " is a member";
  for (int64_t id = 13; id < 60; ++id) EXPECT_NE(population.choose(id, 3).parent_id % 3, 0) << "candidate " << id;
  ASSERT_TRUE(population.best_id().has_value());
  EXPECT_EQ(*population.best_id(), 11);  // the highest score among the evaluated ones
}

TEST(Population, TheBlocksFeatureComesFromTheCaller) {
  RunConfig config;
  config.feature_x = "blocks";
  config.feature_y = "blocks";
  int calls = 0;
  const Population population = filled(config, [&](const std::string&) {
    ++calls;
    return 0.99;
  });
  EXPECT_GT(calls, 0);
  // Every member then sits in the last cell of both axes: one grid cell in all.
  EXPECT_EQ(population.grid_cells_filled(), 1);
}

}  // namespace
}  // namespace adrs

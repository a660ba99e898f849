// A non-finite score never enters the population, whatever the row says: NaN compares false both
// ways and would corrupt every sort, the best-so-far and the MAP-Elites grid.
#include <cmath>
#include <limits>

#include <gtest/gtest.h>

#include "driver/run/population.h"

namespace adrs {
namespace {

CandidateRow evaluated(int64_t id, double score, const char* hash) {
  CandidateRow row;
  row.id = id;
  if (id > 1) row.parent_id = 1;
  row.status = CandidateStatus::kEvaluated;
  row.score = score;
  row.error = -score;
  row.density = 0.1;
  row.source_hash = hash;
  return row;
}

TEST(PopulationGuard, NonFiniteScoresNeverBecomeMembersOrTheBest) {
  RunConfig config;
  Population population(config);
  const CandidateRow seed = evaluated(1, -0.5, "seed");
  population.add(seed, seed);
  for (const CandidateRow& bad : {evaluated(2, std::nan(""), "nan"), evaluated(3, std::numeric_limits<double>::infinity(), "inf"),
                                  evaluated(4, -std::numeric_limits<double>::infinity(), "-inf")})
    population.add(bad, bad);
  EXPECT_EQ(population.members().size(), 1u);
  ASSERT_TRUE(population.best_id().has_value());
  EXPECT_EQ(*population.best_id(), 1);
  EXPECT_EQ(population.best_score(), -0.5);
  EXPECT_EQ(population.choose(5, 7).parent_id, 1);
}

}  // namespace
}  // namespace adrs

// DevicePool: every scoring goes to the device with the fewest scorings waiting or running, over
// all the evaluators that share the pool; finished scorings are counted per device.
#include "evaluator/device_pool.h"

#include <gtest/gtest.h>

namespace adrs {
namespace {

TEST(DevicePool, EachScoringGoesToTheLeastBusyDeviceAndIsCountedThere) {
  DevicePool pool({"cuda:0", "cuda:1", "cuda:3"});
  EXPECT_EQ(pool.acquire(), 0u);
  EXPECT_EQ(pool.acquire(), 1u);
  EXPECT_EQ(pool.acquire(), 2u);
  EXPECT_EQ(pool.acquire(), 0u) << "all equally busy: the lowest index";
  pool.release(1);
  EXPECT_EQ(pool.acquire(), 1u) << "cuda:1 has the fewest in flight";
  pool.release(2);
  pool.release(0);
  pool.release(0);
  EXPECT_EQ(pool.acquire(), 0u);
  EXPECT_EQ(pool.scored(), (std::vector<int64_t>{2, 1, 1}));
  EXPECT_EQ(pool.labels()[2], "cuda:3");
}

TEST(DevicePool, OneDeviceTakesEveryScoring) {
  DevicePool pool({"cpu"});
  for (int i = 0; i < 3; ++i) EXPECT_EQ(pool.acquire(), 0u);
  for (int i = 0; i < 3; ++i) pool.release(0);
  EXPECT_EQ(pool.scored(), std::vector<int64_t>{3});
}

}  // namespace
}  // namespace adrs

// A run's evaluators: every setting, seed and the cascade's stage 1 score through one shared
// device pool (least-busy dispatch over the whole run), and GPUs named by evaluation.devices that
// this machine or build does not have are a clear error, never a silent CPU run.
#include "driver/run/suite_eval.h"

#include <unistd.h>

#include <filesystem>

#include <gtest/gtest.h>

namespace adrs {
namespace {

namespace fs = std::filesystem;

std::string cache_dir() { return (fs::temp_directory_path() / ("adrs-suite-eval-" + std::to_string(::getpid()))).string(); }

TEST(RunEvaluators, EverySettingSeedAndStageSharesOneDevicePool) {
  RunConfig config;
  config.workload = "smoke";
  config.suite = "smoke@0.05,smoke@0.1*2";
  config.eval_seeds = 2;
  config.cascade = true;
  config.cascade_workload = "smoke";
  config.device = "cpu";
  RunEvaluators evaluators;
  const Status s = make_run_evaluators(config, cache_dir(), &evaluators);
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_EQ(evaluators.settings.size(), 2u);
  const std::shared_ptr<DevicePool> pool = evaluators.first().device_pool();
  ASSERT_NE(pool, nullptr);
  for (const SettingEvaluators& setting : evaluators.settings) {
    ASSERT_EQ(setting.per_seed.size(), 2u);
    for (const auto& e : setting.per_seed) EXPECT_EQ(e->device_pool(), pool) << setting.setting.key();
  }
  ASSERT_NE(evaluators.stage1, nullptr);
  EXPECT_EQ(evaluators.stage1->device_pool(), pool);
  EXPECT_EQ(evaluators.device_labels(), std::vector<std::string>{"cpu"});
  EXPECT_EQ(evaluators.gpus(), 0);
  fs::remove_all(cache_dir());
}

TEST(RunEvaluators, GpusNamedThatAreNotThereAreAnErrorNamingTheFix) {
  RunConfig config;
  config.workload = "smoke";
  config.device = "cpu";
  config.devices = "0,1";
  EvalOptions options;
  Status s = run_eval_options(config, cache_dir(), &options);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("evaluation.device is cpu"), std::string::npos) << s.message();
  config.device = "auto";
  config.devices = "0,64";
  s = run_eval_options(config, cache_dir(), &options);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(usable_gpus() == 0 ? "no CUDA device is usable" : "names GPU 64"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace adrs

// The Slurm executor's task files: a task survives the trip through task.json with every option
// that changes a score, and a result file is taken only when it is this task's (nonce), within the
// size cap, of the known schema and with finite numbers; anything else is refused with a reason.
#include "evaluator/eval_task.h"

#include <gtest/gtest.h>

namespace adrs {
namespace {

EvalResult ok_result() {
  EvalResult r;
  r.status = EvalStatus::kOk;
  r.metrics.score = -0.25;
  r.metrics.error = 0.2;
  r.metrics.density = 0.1;
  r.metrics.target_density = 0.1;
  r.metrics.rows = 16;
  r.metrics.entropy_buckets.push_back({0.0, 0.5, 8, 0.1, 0.1});
  r.metrics.call_errors = {0.1, 0.3};
  r.metrics.call_densities = {0.1, 0.1};
  r.metrics.access_density = 0.05;
  r.fingerprint = "0123456789abcdef";
  r.device = "cuda:1";
  r.compile_s = 1.5;
  return r;
}

TEST(EvalTask, ATaskKeepsEveryOptionThatChangesTheScore) {
  EvalTask task;
  task.nonce = "n1";
  task.source = "void select() {}";
  task.options.workload = "default";
  task.options.target_density = 0.05;
  task.options.seed = 7;
  task.options.track = "blind";
  task.options.access_ratio = 3.0;
  task.options.probe_seed = 99;
  task.options.probe_rows = 32;
  task.options.workload_seed = 1234;
  task.options.device = Device::kCuda;
  EvalTask back;
  ASSERT_TRUE(task_from_json(task_to_json(task), &back).ok());
  EXPECT_EQ(back.nonce, "n1");
  EXPECT_EQ(back.source, task.source);
  EXPECT_EQ(back.options.workload, "default");
  EXPECT_EQ(back.options.target_density, 0.05);
  EXPECT_EQ(back.options.seed, 7u);
  EXPECT_EQ(back.options.track, "blind");
  EXPECT_EQ(back.options.access_ratio, 3.0);
  EXPECT_EQ(back.options.probe_seed, 99u);
  EXPECT_EQ(back.options.probe_rows, 32);
  EXPECT_EQ(back.options.workload_seed, std::optional<uint64_t>(1234));
  EXPECT_EQ(back.options.device, Device::kCuda);
  EXPECT_FALSE(task_from_json(nlohmann::json{{"nonce", "n"}}, &back).ok());
}

TEST(EvalTask, AResultOfThisTaskRoundTripsWithItsFingerprintAndPerCallNumbers) {
  const std::string text = task_result_to_json("n1", ok_result()).dump();
  EvalResult r;
  const Status s = parse_task_result(text, "n1", &r);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.metrics.score, -0.25);
  EXPECT_EQ(r.fingerprint, "0123456789abcdef");
  EXPECT_EQ(r.device, "cuda:1");
  EXPECT_EQ(r.metrics.call_errors, (std::vector<double>{0.1, 0.3}));
  EXPECT_EQ(r.metrics.access_density, std::optional<double>(0.05));
  EXPECT_EQ(r.compile_s, 1.5);
}

TEST(EvalTask, ForeignDamagedOrOversizedResultsAreRefusedWithTheReason) {
  const nlohmann::json good = task_result_to_json("n1", ok_result());
  EvalResult r;
  auto refused = [&](const nlohmann::json& j, const std::string& why) {
    const Status s = parse_task_result(j.dump(), "n1", &r);
    EXPECT_FALSE(s.ok()) << j.dump();
    EXPECT_NE(s.message().find(why), std::string::npos) << s.message();
  };
  refused(task_result_to_json("other", ok_result()), "another task");
  nlohmann::json j = good;
  j["status"] = "great";
  refused(j, "unknown status");
  j = good;
  j["metrics"]["score"] = "high";
  refused(j, "score");
  j = good;
  j.erase("fingerprint");
  refused(j, "fingerprint");
  j = good;
  j["metrics"]["per_call"]["errors"] = {0.1};
  refused(j, "differ in length");
  j = good;
  j["compile_s"] = -1;
  refused(j, "compile_s");
  EXPECT_FALSE(parse_task_result(std::string(kMaxTaskResultBytes + 1, ' '), "n1", &r).ok());
  EXPECT_FALSE(parse_task_result("[1, 2]", "n1", &r).ok());
}

TEST(EvalTask, ACandidatesFailureTravelsAsItsStatusWithoutMetrics) {
  EvalResult failed;
  failed.status = EvalStatus::kCompileError;
  failed.message = "error: expected ';'";
  EvalResult r;
  ASSERT_TRUE(parse_task_result(task_result_to_json("n1", failed).dump(), "n1", &r).ok());
  EXPECT_EQ(r.status, EvalStatus::kCompileError);
  EXPECT_EQ(r.message, "error: expected ';'");
}

}  // namespace
}  // namespace adrs

// Candidate code through the whole path: compile, sandboxed worker, validation, metrics.
// Every misbehaving masker must give its failure status and a clear message, never harm the test.
#include <sys/resource.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>

#include "tests/test_util.h"

namespace adrs {
namespace {

class WorkerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { evaluator_ = test::make_evaluator(test::test_options()).release(); }
  static void TearDownTestSuite() {
    delete evaluator_;
    evaluator_ = nullptr;
  }
  EvalResult eval(const std::string& masker) { return evaluator_->evaluate_source(test::masker_source(masker)); }
  static Evaluator* evaluator_;
};
Evaluator* WorkerTest::evaluator_ = nullptr;

TEST_F(WorkerTest, StarterIsSinkPlusWindowUnderTarget) {
  const EvalResult r = eval(test::source_dir() + "/masker_template/evolve_masker.cpp");
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_GE(r.metrics.density, 0.085);
  EXPECT_LE(r.metrics.density, 0.10);
  EXPECT_GT(r.metrics.error, 0.0);
  EXPECT_LT(r.metrics.error, 1.0);
  EXPECT_EQ(r.metrics.penalty, 0.0);
  EXPECT_EQ(r.metrics.score, -r.metrics.error);
}

TEST_F(WorkerTest, KeepAllAndKeepNone) {
  const EvalResult all = eval("keep_all");
  ASSERT_TRUE(all.ok()) << all.message;
  EXPECT_LT(all.metrics.error, 1e-6);
  EXPECT_EQ(all.metrics.density, 1.0);
  EXPECT_NEAR(all.metrics.penalty, 90.0, 1e-9);
  EXPECT_NEAR(all.metrics.score, -90.0, 1e-6);
  const EvalResult none = eval("keep_none");
  ASSERT_TRUE(none.ok()) << none.message;
  EXPECT_NEAR(none.metrics.error, 1.0, 1e-9);
  EXPECT_EQ(none.metrics.density, 0.0);
}

TEST_F(WorkerTest, RepeatIsBitIdentical) {
  for (const char* masker : {"uniform_sample", "../../masker_template/evolve_masker"}) {
    auto a = test::make_evaluator(test::test_options());
    auto b = test::make_evaluator(test::test_options());
    const std::string source = test::masker_source(std::string(masker).find('/') == std::string::npos
                                                       ? masker
                                                       : test::source_dir() + "/masker_template/evolve_masker.cpp");
    const EvalResult x = a->evaluate_source(source), y = b->evaluate_source(source);
    ASSERT_TRUE(x.ok() && y.ok());
    EXPECT_EQ(metrics_to_json(x.metrics).dump(), metrics_to_json(y.metrics).dump()) << masker;
  }
}

TEST_F(WorkerTest, UniformSamplingErrorFallsWithMoreDraws) {
  double previous = 2.0;
  for (double density : {0.02, 0.1, 0.4}) {
    double sum = 0.0;
    for (uint64_t seed = 0; seed < 5; ++seed) {
      EvalOptions options = test::test_options();
      options.target_density = density;
      options.seed = seed;
      const EvalResult r = test::make_evaluator(options)->evaluate_source(test::masker_source("uniform_sample"));
      ASSERT_TRUE(r.ok()) << r.message;
      sum += r.metrics.error;
    }
    EXPECT_LT(sum / 5, previous) << "density " << density;
    previous = sum / 5;
  }
}

struct FailureCase {
  const char* masker;
  EvalStatus status;
  const char* message_part;
};

class WorkerFailureTest : public WorkerTest, public ::testing::WithParamInterface<FailureCase> {};

TEST_P(WorkerFailureTest, FailsCleanlyWithReason) {
  const FailureCase& c = GetParam();
  const EvalResult r = eval(c.masker);
  EXPECT_EQ(status_name(r.status), std::string(status_name(c.status))) << r.message;
  EXPECT_NE(r.message.find(c.message_part), std::string::npos) << r.message;
}

INSTANTIATE_TEST_SUITE_P(
    Misbehaviour, WorkerFailureTest,
    ::testing::Values(FailureCase{"segfault", EvalStatus::kCrashed, "SIGSEGV"},
                      FailureCase{"segfault", EvalStatus::kCrashed, "head 3"},
                      FailureCase{"abort", EvalStatus::kCrashed, "SIGABRT"},
                      FailureCase{"throw", EvalStatus::kException, "masker gave up"},
                      FailureCase{"alloc_64g", EvalStatus::kOutOfMemory, "out of memory"},
                      FailureCase{"fork", EvalStatus::kForbiddenSyscall, "process creation"},
                      FailureCase{"exec_shell", EvalStatus::kForbiddenSyscall, "forbidden system call"},
                      FailureCase{"socket", EvalStatus::kForbiddenSyscall, "socket"},
                      FailureCase{"kill_parent", EvalStatus::kForbiddenSyscall, "kill"},
                      FailureCase{"write_workload", EvalStatus::kCrashed, "SIGSEGV"},
                      FailureCase{"out_of_range", EvalStatus::kInvalidMask, "out of range"},
                      FailureCase{"nan_weight", EvalStatus::kInvalidMask, "weight nan"},
                      FailureCase{"small_weight", EvalStatus::kInvalidMask, "weight 0.5"},
                      FailureCase{"no_entry", EvalStatus::kBadMasker, "entry point"},
                      FailureCase{"wrong_signature", EvalStatus::kBadMasker, "exactly this signature"},
                      FailureCase{"syntax_error", EvalStatus::kCompileError, "error"}),
    [](const ::testing::TestParamInfo<FailureCase>& info) {
      return std::string(info.param.masker) + "_" + std::to_string(info.index);
    });

TEST_F(WorkerTest, ExecShellLeavesNoTrace) {
  std::filesystem::remove("/tmp/adrs-pwned");
  eval("exec_shell");
  EXPECT_FALSE(std::filesystem::exists("/tmp/adrs-pwned"));
}

TEST_F(WorkerTest, MaskerSeesNoApiKey) {
  ::setenv("OPENAI_API_KEY", "sk-adrs-test-0123456789", 1);
  const EvalResult r = eval("read_env");
  ::unsetenv("OPENAI_API_KEY");
  EXPECT_TRUE(r.ok()) << "the masker found the key, or failed: " << r.message;
}

TEST_F(WorkerTest, MaskerCannotReadFilesOutsideTheSandbox) {
  const EvalResult starter = eval(test::source_dir() + "/masker_template/evolve_masker.cpp");
  ASSERT_TRUE(starter.ok());
  if (starter.sandbox.find("filesystem restricted") == std::string::npos)
    GTEST_SKIP() << "this kernel has no Landlock: " << starter.sandbox;
  const EvalResult r = eval("read_files");
  EXPECT_TRUE(r.ok()) << "the masker read a file it should not reach: " << r.message;
}

TEST_F(WorkerTest, SandboxIsReported) {
  const EvalResult r = eval("keep_none");
  ASSERT_TRUE(r.ok());
  EXPECT_NE(r.sandbox.find("seccomp allow list"), std::string::npos) << r.sandbox;
  EXPECT_NE(r.sandbox.find("no capabilities"), std::string::npos) << r.sandbox;
}

TEST_F(WorkerTest, InfiniteLoopTimesOut) {
  EvalOptions options = test::test_options();
  options.timeout_s = 2.0;
  auto e = test::make_evaluator(options);
  const auto start = std::chrono::steady_clock::now();
  const EvalResult r = e->evaluate_source(test::masker_source("infinite_loop"));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(r.status, EvalStatus::kTimeout) << r.message;
  EXPECT_LT(seconds, 10.0);  // a hang bound, not a performance check
}

TEST_F(WorkerTest, CompileErrorShowsCompilerOutput) {
  const EvalResult r = eval("syntax_error");
  EXPECT_EQ(r.status, EvalStatus::kCompileError);
  EXPECT_NE(r.message.find("masker.cpp"), std::string::npos) << r.message;
  EXPECT_NE(r.compile_log.find("undefined_function"), std::string::npos) << r.compile_log;
}

TEST_F(WorkerTest, SameSourceCompilesOnce) {
  const std::string source = test::masker_source("keep_all") + "\n// unique " + std::to_string(std::chrono::system_clock::now().time_since_epoch().count()) + "\n";
  const EvalResult first = evaluator_->evaluate_source(source);
  const EvalResult second = evaluator_->evaluate_source(source);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_FALSE(first.compile_cached);
  EXPECT_TRUE(second.compile_cached);
}

}  // namespace
}  // namespace adrs

namespace adrs {
namespace {

// A file-size limit of adrs itself (ulimit -f), which the worker and the compiler inherit, is the
// machine's limit: the evaluation is a harness fault naming it, never a failed candidate.
TEST(WorkerFileSizeLimit, AnInheritedLimitIsAHarnessFaultNeverTheCandidates) {
  const std::string text = test::text_from_child([] {
    auto evaluator = test::make_evaluator(test::test_options());  // its input file is written first
    const rlimit limit{100 << 10, 100 << 10};
    ::setrlimit(RLIMIT_FSIZE, &limit);
    const EvalResult r = evaluator->evaluate_source(test::masker_source("keep_all"));
    return std::string(status_name(r.status)) + "\n" + r.message;
  });
  EXPECT_EQ(text.rfind("internal_error\n", 0), 0u) << text;
  EXPECT_NE(text.find("ulimit -f"), std::string::npos) << text;
}

}  // namespace
}  // namespace adrs

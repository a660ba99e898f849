// Faults during compilation are harness faults, never results: a full cache file system, or a
// compiler killed by a signal we did not send, gives kSetupError (internal_error for the
// evaluator), nothing is cached, and the same source compiles and scores once the fault is gone.
#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include <gtest/gtest.h>

#include "evaluator/compiler.h"
#include "evaluator/evaluator.h"
#include "tests/security/compile_test_processes.h"
#include "tests/test_util.h"

namespace adrs {
namespace {

namespace fs = std::filesystem;

// A directory with a small tmpfs mounted on it (we are root in the test machine; where mounting
// is refused the tests skip and say why).
struct TinyFileSystem {
  std::string dir, mount_error;
  bool mounted = false;
  explicit TinyFileSystem(const std::string& size) {
    dir = test::make_test_dir(test::binary_dir(), "compile-fault");
    const std::string options = "size=" + size;
    mounted = ::mount("tmpfs", dir.c_str(), "tmpfs", 0, options.c_str()) == 0;
    if (!mounted) mount_error = std::strerror(errno);
  }
  bool resize(const std::string& size) {
    const std::string options = "size=" + size;
    return ::mount(nullptr, dir.c_str(), nullptr, MS_REMOUNT, options.c_str()) == 0;
  }
  ~TinyFileSystem() {
    if (mounted) ::umount2(dir.c_str(), MNT_DETACH);
    ::rmdir(dir.c_str());
  }
};

// Fills the file system until a write fails; returns the filler's path.
std::string fill(const std::string& dir) {
  const std::string path = dir + "/filler";
  std::ofstream out(path, std::ios::binary);
  const std::string block(1 << 16, 'f');
  while (out.write(block.data(), block.size())) {
  }
  return path;
}

const char kGood[] =
    "#include \"masker_api.h\"\n"
    "void select(const adrs::Row& row, adrs::Selection& out) {\n"
    "  for (int i = 0; i < row.num_keys; i += 10) out.add(i);\n"
    "}\n";

bool has_entries(const std::string& dir) {
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".entry") return true;
  return false;
}

TEST(CompileFault, AFullCacheIsAHarnessFaultAndTheSameCandidateScoresOnceSpaceIsFreed) {
  TinyFileSystem fsys("1m");
  if (!fsys.mounted) GTEST_SKIP() << "cannot mount a tmpfs here (" << fsys.mount_error << "); needs root";
  EvalOptions options = test::test_options("smoke");
  options.cache_dir = fsys.dir;
  auto evaluator = test::make_evaluator(options);
  ASSERT_TRUE(evaluator);
  const EvalResult full = evaluator->evaluate_source(kGood);
  EXPECT_EQ(full.status, EvalStatus::kInternalError) << status_name(full.status) << ": " << full.message;
  EXPECT_NE(full.message.find("No space left"), std::string::npos) << full.message;
  ASSERT_TRUE(fs::exists(fsys.dir + "/maskers"));
  EXPECT_FALSE(has_entries(fsys.dir + "/maskers")) << "a fault must not be cached";

  ASSERT_TRUE(fsys.resize("400m"));
  const EvalResult after = evaluator->evaluate_source(kGood);
  EXPECT_EQ(after.status, EvalStatus::kOk) << after.message;
  EXPECT_FALSE(after.compile_cached);
  EXPECT_LT(after.metrics.error, 1.0);
}

TEST(CompileFault, ANoSpaceErrorWhileStoringTheObjectIsNotACompileError) {
  TinyFileSystem fsys("400m");
  if (!fsys.mounted) GTEST_SKIP() << "cannot mount a tmpfs here (" << fsys.mount_error << "); needs root";
  CompileOptions options;
  options.cache_dir = fsys.dir;
  ASSERT_TRUE(compile_masker(kGood, options).ok());  // builds the precompiled header too
  const std::string source = std::string(kGood) + "// another candidate\n";
  const std::string filler = fill(fsys.dir);
  const CompileResult full = compile_masker(source, options);
  EXPECT_EQ(full.outcome, CompileResult::Outcome::kSetupError) << full.message;
  EXPECT_FALSE(fs::exists(fsys.dir + "/" + full.key + ".entry"));
  fs::remove(filler);
  const CompileResult after = compile_masker(source, options);
  EXPECT_TRUE(after.ok()) << after.message;
  EXPECT_FALSE(after.cached);
}

// Kills our jailed cc1plus once it is seen, as the OOM killer would.
void kill_compiler_when_it_starts(std::atomic<bool>* done) {
  while (!done->load()) {
    // cc1plus itself, not the wrapper shell whose arguments name it.
    for (const auto& p : test::descendants(::getpid(), "cc1plus"))
      if (test::comm(p.pid) == "cc1plus") ::kill(p.pid, SIGKILL);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

TEST(CompileFault, ACompilerKilledByASignalIsAHarnessFaultNotACompileError) {
  const std::string dir = test::make_test_dir(test::binary_dir(), "compile-kill");
  CompileOptions options;
  options.cache_dir = dir;
  options.timeout_s = 120;
  ASSERT_TRUE(compile_masker(kGood, options).ok());  // the precompiled header, outside the kill window
  std::atomic<bool> done{false};
  std::thread killer(kill_compiler_when_it_starts, &done);
  const CompileResult killed = compile_masker(test::masker_source("hang_compiler"), options);
  done = true;
  killer.join();
  EXPECT_EQ(killed.outcome, CompileResult::Outcome::kSetupError) << killed.message << killed.log;
  EXPECT_FALSE(fs::exists(dir + "/" + killed.key + ".entry"));
  std::error_code ignored;
  fs::remove_all(dir, ignored);
}

}  // namespace
}  // namespace adrs

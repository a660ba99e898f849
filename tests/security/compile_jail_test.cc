// The compiler jail from outside: candidate sources that try to read host files at compile time
// (#include, .incbin, __has_include, the environment) see nothing outside the jail, the log is
// capped, and no compiler process outlives a timeout or a kill -9 of adrs.
#include <grp.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "evaluator/compiler.h"
#include "tests/security/compile_test_processes.h"
#include "tests/test_util.h"

namespace adrs {
namespace {

namespace fs = std::filesystem;

const char kSecret[] = "adrs-canary-7f3a9c-secret-text";

// A private directory with a canary file (outside the toolchain) and a fresh compile cache.
struct Sandbox {
  std::string dir, secret, cache;
  Sandbox() {
    dir = test::make_test_dir(test::binary_dir(), "compile-jail");
    secret = dir + "/secret.txt";
    std::ofstream(secret) << kSecret << "\n";
    cache = dir + "/cache";
  }
  ~Sandbox() {
    std::error_code ignored;
    fs::remove_all(dir, ignored);
  }
  CompileResult compile(const std::string& source, double timeout_s = 60) const {
    CompileOptions options;
    // One cache for the suite: its precompiled header is built once (the sources all differ).
    options.cache_dir = test::binary_dir() + "/test-cache/compile-jail";
    options.timeout_s = timeout_s;
    return compile_masker(source, options);
  }
};

// A comment unique to this test process keeps every source out of the (shared) cache: each test
// must see the jail at work, not an outcome stored by an earlier build.
std::string masker_with(const std::string& prelude) {
  static const std::string nonce = std::to_string(::getpid()) + "-" + std::to_string(::time(nullptr));
  return "#include \"masker_api.h\"\n" + prelude +
         "\nvoid select(const adrs::Row& row, adrs::Selection& out) { out.add(row.num_keys - 1); }\n// " + nonce + "\n";
}

void expect_not_seen(const CompileResult& r, const std::string& what) {
  EXPECT_EQ(r.outcome, CompileResult::Outcome::kCompileError) << what << ": " << r.message;
  EXPECT_EQ(r.log.find(kSecret), std::string::npos) << what;
  EXPECT_EQ(r.message.find(kSecret), std::string::npos) << what;
  EXPECT_EQ(r.log.find("root:x:0:0"), std::string::npos) << what;
}

TEST(CompileJail, AGoodMaskerCompilesInTheJail) {
  Sandbox box;
  const CompileResult r = box.compile(masker_with("#include <vector>\n#include <cmath>"));
  ASSERT_TRUE(r.ok()) << r.message << r.log;
  EXPECT_FALSE(r.cached);
  EXPECT_TRUE(fs::is_regular_file(r.so_path));
  EXPECT_EQ(r.key.size(), 64u);
}

TEST(CompileJail, IncludingHostFilesByAbsolutePathFindsNothing) {
  Sandbox box;
  expect_not_seen(box.compile(masker_with("#include \"/etc/passwd\"")), "/etc/passwd");
  expect_not_seen(box.compile(masker_with("#include \"" + box.secret + "\"")), "planted secret");
  expect_not_seen(box.compile(masker_with("#include \"" + test::source_dir() + "/evaluator/synthetic.h\"")),
                  "evaluator source by absolute path");
  expect_not_seen(box.compile(masker_with("#include \"/proc/self/environ\"")), "environment of the compiler");
  // An endless device would hang the compiler until the timeout: it is not in the jail.
  expect_not_seen(box.compile(masker_with("#include \"/dev/zero\"")), "/dev/zero");
}

TEST(CompileJail, SiteFilesUnderUsrLocalAreHidden) {
  std::string planted;
  std::error_code error;
  for (auto it = fs::recursive_directory_iterator("/usr/local", fs::directory_options::skip_permission_denied, error);
       !error && it != fs::recursive_directory_iterator() && planted.empty(); it.increment(error))
    if (it->is_regular_file() && it->path().string().find('"') == std::string::npos) planted = it->path().string();
  if (planted.empty()) GTEST_SKIP() << "no file under /usr/local on this machine";
  Sandbox box;
  const CompileResult r = box.compile(masker_with("#if __has_include(\"" + planted + "\")\n#error visible\n#endif"));
  EXPECT_TRUE(r.ok()) << planted << " is visible in the jail: " << r.message;
}

TEST(CompileJail, RelativeIncludesDoNotReachTheRunOrTheSourceTree) {
  Sandbox box;
  expect_not_seen(box.compile(masker_with("#include \"../../run.db\"")), "run.db");
  expect_not_seen(box.compile(masker_with("#include \"../cache/x.entry\"")), "cache");
  expect_not_seen(box.compile(masker_with("#include \"evaluator/synthetic.h\"")), "include path");
  expect_not_seen(box.compile(masker_with("#include <evaluator/synthetic.h>")), "system include path");
  expect_not_seen(box.compile(masker_with("#include \"../evaluator/synthetic.h\"")), "sibling of the API header");
}

TEST(CompileJail, IncbinOfAHostFileFailsButToolchainFilesAreReadable) {
  Sandbox box;
  expect_not_seen(box.compile(masker_with("asm(\".section .rodata\\n.incbin \\\"" + box.secret + "\\\"\\n.text\");")),
                  ".incbin secret");
  // The jail is not simply broken: a toolchain file (public) can be embedded.
  const CompileResult ok = box.compile(masker_with("asm(\".section .rodata\\n.incbin \\\"/usr/include/stdio.h\\\"\\n.text\");"));
  EXPECT_TRUE(ok.ok()) << ok.message;
}

TEST(CompileJail, HasIncludeProbesSeeOnlyTheJail) {
  Sandbox box;
  const std::string probes =
      "#if __has_include(\"/etc/passwd\") || __has_include(\"" + box.secret + "\") || "
      "__has_include(\"/etc/shadow\") || __has_include(\"/proc/self/environ\") || __has_include(\"/root\")\n"
      "#error a host file is visible\n#endif\n"
      "#if !__has_include(<vector>) || !__has_include(\"masker_api.h\")\n#error the toolchain is missing\n#endif";
  const CompileResult r = box.compile(masker_with(probes));
  EXPECT_TRUE(r.ok()) << r.message;
}

TEST(CompileJail, TheCallersEnvironmentDoesNotReachTheCompiler) {
  Sandbox box;
  // CPATH would add a directory to the compiler's include path if the environment got through.
  fs::create_directories(box.dir + "/inc");
  std::ofstream(box.dir + "/inc/planted_header.h") << "#error " << kSecret << "\n";
  ::setenv("CPATH", (box.dir + "/inc").c_str(), 1);
  const CompileResult r = box.compile(masker_with("#if __has_include(\"planted_header.h\")\n#error env leaked\n#endif"));
  ::unsetenv("CPATH");
  EXPECT_TRUE(r.ok()) << r.message;
}

// g++ reports a subprocess killed by a signal only in its output; a source can print the same
// words. Text must never turn a compile error into a harness fault (which would stop the run).
TEST(CompileJail, ForgedKilledBySignalTextStaysACompileError) {
  Sandbox box;
  const CompileResult r = box.compile(masker_with(
      "static_assert(false, \"x\\ng++: fatal error: Killed signal terminated program cc1plus\\n"
      "adrs-worker compile: a compiler process ended on signal 9\\n\");"));
  EXPECT_EQ(r.outcome, CompileResult::Outcome::kCompileError) << r.message;
}

TEST(CompileJail, CompilerOutputIsCappedAndNamesOnlyTheMasker) {
  Sandbox box;
  std::string noise;
  const std::string long_name(120, 'q');  // ~500 bytes of output per error, few errors to compile
  for (int i = 0; i < 400; ++i) noise += "int v" + std::to_string(i) + " = " + long_name + std::to_string(i) + ";\n";
  const CompileResult r = box.compile(masker_with(noise));
  EXPECT_EQ(r.outcome, CompileResult::Outcome::kCompileError);
  EXPECT_LE(r.log.size(), 70u * 1024) << "the log must be capped";
  EXPECT_NE(r.log.find("more bytes of compiler output dropped"), std::string::npos);
  EXPECT_NE(r.log.find("masker.cpp:"), std::string::npos);
  EXPECT_EQ(r.log.find("test-cache"), std::string::npos) << "host paths of the cache must not show";
}

// Without root the jail is built in a user namespace (the compiler keeps the caller's uid, mapped
// to root inside, with no capability left).
TEST(CompileJail, AnUnprivilegedCallerGetsTheSameJail) {
  Sandbox box;
  ::chmod(box.dir.c_str(), 0777);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (::setgroups(0, nullptr) != 0 || ::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0)
      ::_exit(3);
    if (::access((test::binary_dir() + "/adrs-worker").c_str(), X_OK) != 0) ::_exit(4);
    CompileOptions options;
    options.cache_dir = box.dir + "/cache-nobody";
    const CompileResult good = compile_masker(masker_with(""), options);
    const CompileResult secret = compile_masker(masker_with("#include \"/etc/passwd\""), options);
    ::_exit(good.ok() && secret.outcome == CompileResult::Outcome::kCompileError ? 0 : 1);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 3) GTEST_SKIP() << "cannot become uid 65534 here (not root)";
  if (WEXITSTATUS(status) == 4) GTEST_SKIP() << "uid 65534 cannot run " << test::binary_dir() << "/adrs-worker";
  EXPECT_EQ(WEXITSTATUS(status), 0) << "compiling as an unprivileged user failed or saw /etc/passwd";
}

// Polls (without asserting on time) until none of `processes` is alive; gives up after ~10 s.
int alive_after_settling(const std::set<test::ProcessId>& processes) {
  for (int i = 0; i < 200 && test::still_alive(processes) > 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  return test::still_alive(processes);
}

TEST(CompileJail, ACompileTimeoutLeavesNoCompilerProcess) {
  Sandbox box;
  std::atomic<bool> done{false};
  std::set<test::ProcessId> seen;
  bool saw_compiler = false;
  std::thread watcher([&] {
    while (!done.load()) {
      for (const auto& p : test::descendants(::getpid(), "")) seen.insert(p);
      saw_compiler |= !test::descendants(::getpid(), "cc1plus").empty();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  const CompileResult r = box.compile(test::masker_source("hang_compiler"), 3.0);
  done = true;
  watcher.join();
  EXPECT_EQ(r.outcome, CompileResult::Outcome::kTimeout) << r.message;
  EXPECT_TRUE(saw_compiler) << "the watcher never saw the compiler";
  EXPECT_EQ(alive_after_settling(seen), 0) << "compiler processes outlived the timeout";
  EXPECT_FALSE(fs::exists(test::binary_dir() + "/test-cache/compile-jail/" + r.key + ".entry")) << "a timeout is not cached";
}

TEST(CompileJail, KillNineOfAdrsLeavesNoCompilerProcess) {
  Sandbox box;
  const std::string masker = test::source_dir() + "/tests/maskers/hang_compiler.cpp";
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::setpgid(0, 0);  // its own group: only the kernel's cleanup can reach the compilers
    const std::string adrs = test::binary_dir() + "/adrs";
    ::execl(adrs.c_str(), adrs.c_str(), "eval", masker.c_str(), "--cache-dir", box.cache.c_str(), "--workload",
            "smoke", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  // Wait for the masker's cc1plus (the precompiled header is built first on a cold cache).
  std::set<test::ProcessId> ours;
  for (int i = 0; i < 1200 && ours.empty(); ++i) {
    for (const auto& p : test::descendants(pid, "/src/masker.cpp"))
      if (test::cmdline(p.pid).find("cc1plus") != std::string::npos) ours = test::descendants(pid, "");
    if (ours.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_FALSE(ours.empty()) << "the compiler never started";
  EXPECT_EQ(alive_after_settling(ours), 0) << "compiler processes (g++, cc1plus, the jail) outlived adrs";
}

}  // namespace
}  // namespace adrs

// Attacks on the masker worker (the classes of the trust-boundary issue on the worker side), each
// judged from outside: a fake API key planted in this process's environment, planted files and a
// listening socket, the host's IPC table, this process still running, and the status and message
// the evaluator reports. Maskers are in tests/security/maskers/.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <seccomp.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "tests/test_util.h"

namespace adrs {
namespace {

constexpr const char* kFakeKey = "sk-adrs-canary-7d1e0c3b9a";

class WorkerAttack : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ::setenv("ADRS_SECURITY_TEST_API_KEY", kFakeKey, 1);
    evaluator_ = test::make_evaluator(test::test_options()).release();
  }
  static void TearDownTestSuite() {
    delete evaluator_;
    evaluator_ = nullptr;
    ::unsetenv("ADRS_SECURITY_TEST_API_KEY");
  }
  static EvalResult eval(const std::string& masker) {
    return evaluator_->evaluate_source(
        test::masker_source(test::source_dir() + "/tests/security/maskers/" + masker + ".cpp"));
  }
  static std::string json(const EvalResult& r) { return result_to_json(r, *evaluator_).dump(); }
  static bool jailed() {
    static const bool yes = eval_keep_none().sandbox.find("private tmpfs root") != std::string::npos;
    return yes;
  }
  static EvalResult eval_keep_none() { return evaluator_->evaluate_source(test::masker_source("keep_none")); }
  static Evaluator* evaluator_;
};
Evaluator* WorkerAttack::evaluator_ = nullptr;

#define EXPECT_STATUS(result, expected) \
  EXPECT_EQ(status_name((result).status), std::string(status_name(expected))) << (result).message

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

TEST_F(WorkerAttack, TheSandboxSummaryNamesTheActiveLayers) {
  const EvalResult r = eval_keep_none();
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_NE(r.sandbox.find("seccomp allow list"), std::string::npos) << r.sandbox;
  if (!jailed()) GTEST_SKIP() << "the kernel refused the jail's namespaces: " << r.sandbox;
  for (const char* layer : {"user namespace", "pid namespace", "network namespace", "ipc namespace", "mount namespace",
                            "no capabilities"})
    EXPECT_NE(r.sandbox.find(layer), std::string::npos) << layer << " missing from: " << r.sandbox;
  if (::geteuid() == 0) {
    EXPECT_NE(r.sandbox.find("uid/gid 65534"), std::string::npos) << r.sandbox;
  }
}

// Class 1: nothing of the trusted side (environment, /proc, host files) reaches the masker.
TEST_F(WorkerAttack, MaskerFindsNoSecretAndNoHostFile) {
  const EvalResult r = eval("report_environment");
  EXPECT_STATUS(r, EvalStatus::kException);
  EXPECT_NE(r.message.find("env:"), std::string::npos) << r.message;
  EXPECT_EQ(json(r).find(kFakeKey), std::string::npos) << "the planted key came back: " << r.message;
  if (!jailed()) GTEST_SKIP() << "no private root on this kernel";
  for (const char* path : {"/proc/self/environ:", "/proc/1/environ:", "/etc/passwd:", "/etc/hostname:", "/root/.bashrc:"})
    EXPECT_EQ(r.message.find(path), std::string::npos) << path << " was readable: " << r.message;
  EXPECT_NE(r.message.find("host: adrs-worker"), std::string::npos) << r.message;
}

// Class 1: channels the masker floods come back capped, and the parent neither blocks nor dies.
TEST_F(WorkerAttack, FloodedChannelsAreCappedAndEndTheCandidateOnly) {
  const EvalResult r = eval("huge_message");
  EXPECT_STATUS(r, EvalStatus::kCrashed);
  EXPECT_NE(r.message.find("SIGXFSZ"), std::string::npos) << r.message.substr(0, 300);
  EXPECT_LT(r.message.size(), 5000u);
}

// Class 2: the worker holds only the descriptors made for it, even where ours lack O_CLOEXEC.
TEST_F(WorkerAttack, WorkerInheritsNoDescriptorOfTheParent) {
  const std::string path = ::testing::TempDir() + "/adrs-inherited-canary";
  { std::ofstream(path) << "original"; }
  const int file = ::open(path.c_str(), O_RDWR);  // deliberately without O_CLOEXEC
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(listener, 4), 0);
  const EvalResult r = eval("descriptor_scan");
  EXPECT_STATUS(r, EvalStatus::kException);
  const std::string expected = "open descriptors: 0 1 2 5 6";
  const size_t at = r.message.find(expected);
  ASSERT_NE(at, std::string::npos) << r.message;
  const size_t after = at + expected.size();
  EXPECT_TRUE(after == r.message.size() || r.message[after] == '\n') << "an extra descriptor: " << r.message;
  EXPECT_EQ(read_text(path), "original");
  EXPECT_LT(::accept(listener, nullptr, nullptr), 0);
  ::close(listener);
  ::close(file);
  std::filesystem::remove(path);
}

// Class 3: signals and limits aimed at other processes are refused before they run.
TEST_F(WorkerAttack, SignalOwnershipLimitsAndKillsOfOthersAreForbidden) {
  const EvalResult setown = eval("fcntl_setown");
  EXPECT_STATUS(setown, EvalStatus::kForbiddenSyscall);
  EXPECT_NE(setown.message.find("F_SETOWN"), std::string::npos) << setown.message;
  const EvalResult prlimit = eval("prlimit_other");
  EXPECT_STATUS(prlimit, EvalStatus::kForbiddenSyscall);
  const EvalResult kill = eval("kill_everyone");
  EXPECT_STATUS(kill, EvalStatus::kForbiddenSyscall);
  EXPECT_NE(kill.message.find("kill"), std::string::npos) << kill.message;
  EXPECT_TRUE(eval_keep_none().ok()) << "the evaluator stopped working after the attacks";
}

// Class 4: metadata outside, IPC objects and memfds are refused; the scratch is bounded.
TEST_F(WorkerAttack, FileMetadataOutsideIsUnchanged) {
  const auto before = std::filesystem::status("/usr/bin/env").permissions();
  const EvalResult r = eval("chmod_system_file");
  EXPECT_STATUS(r, EvalStatus::kForbiddenSyscall);
  EXPECT_NE(r.message.find("chmod"), std::string::npos) << r.message;
  EXPECT_EQ(std::filesystem::status("/usr/bin/env").permissions(), before);
}

TEST_F(WorkerAttack, NoSystemVObjectOutlivesTheWorker) {
  const std::string before = read_text("/proc/sysvipc/shm");
  const EvalResult r = eval("sysv_shared_memory");
  EXPECT_STATUS(r, EvalStatus::kForbiddenSyscall);
  EXPECT_NE(r.message.find("System V"), std::string::npos) << r.message;
  EXPECT_EQ(read_text("/proc/sysvipc/shm"), before);
}

TEST_F(WorkerAttack, MemfdIsRefused) {
  const EvalResult r = eval("memfd_hoard");
  EXPECT_STATUS(r, EvalStatus::kForbiddenSyscall);
  EXPECT_NE(r.message.find("memfd_create"), std::string::npos) << r.message;
}

TEST_F(WorkerAttack, ScratchSpaceIsBoundedInBytesAndFiles) {
  if (!jailed()) GTEST_SKIP() << "no private tmpfs on this kernel";
  const EvalResult r = eval("fill_scratch");
  EXPECT_STATUS(r, EvalStatus::kException);
  long megabytes = -1, files = -1;
  const size_t at = r.message.find("filled ");
  ASSERT_NE(at, std::string::npos) << r.message;
  ASSERT_EQ(std::sscanf(r.message.c_str() + at, "filled %ld MB and %ld files", &megabytes, &files), 2) << r.message;
  EXPECT_LE(megabytes, 80);
  EXPECT_LE(files, 4096);
}

// Class 6: nothing in the worker's memory names the workload or holds the input's old header.
TEST_F(WorkerAttack, MappedInputNamesNeitherWorkloadNorHeader) {
  const EvalResult r = eval("find_workload_header");
  EXPECT_STATUS(r, EvalStatus::kException);
  EXPECT_NE(r.message.find("scanned "), std::string::npos) << r.message;
  EXPECT_EQ(r.message.find(" found "), std::string::npos) << r.message;
  long kib = 0;
  ASSERT_EQ(std::sscanf(r.message.c_str() + r.message.find("scanned "), "scanned %ld KiB", &kib), 1);
  const long keys_kib = static_cast<long>(evaluator_->workload().kv_floats() * 4 / 1024);
  EXPECT_GE(kib, keys_kib) << "the scan did not cover the mapped keys";
}

// Class 8: exit codes the masker chooses are its own outcome, never a harness fault.
TEST_F(WorkerAttack, ForgedExitCodesAreTheCandidatesFailure) {
  for (const char* masker : {"exit_in_static_init", "exit_output_error"}) {
    const EvalResult r = eval(masker);
    EXPECT_STATUS(r, EvalStatus::kCrashed);
    EXPECT_NE(r.message.find("after it loaded the masker"), std::string::npos) << masker << ": " << r.message;
  }
}

TEST_F(WorkerAttack, ForgedReadyLinesAndSandboxTextAreIgnored) {
  const EvalResult r = eval("forge_protocol");
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.sandbox.find("PWNED"), std::string::npos) << r.sandbox;
  EXPECT_NE(r.sandbox.find("seccomp allow list"), std::string::npos) << r.sandbox;
}

TEST_F(WorkerAttack, WeightsThatOverflowWhenMergedAreInvalid) {
  const EvalResult r = eval("weight_overflow");
  EXPECT_STATUS(r, EvalStatus::kInvalidMask);
  EXPECT_NE(r.message.find("sum to inf"), std::string::npos) << r.message;
}

// A thread may be created, but not with a namespace flag smuggled in beside CLONE_THREAD.
TEST_F(WorkerAttack, CloneWithThreadAndNamespaceFlagsIsForbidden) {
  const EvalResult r = eval("clone_thread_namespace");
  EXPECT_STATUS(r, EvalStatus::kForbiddenSyscall);
}

// A masker that floods its standard error is stopped by the file-size limit; the parent stays
// small and shows only the tail of what it wrote.
TEST_F(WorkerAttack, AFloodOfOutputIsCappedAndNamed) {
  const EvalResult r = eval("stderr_flood");
  EXPECT_STATUS(r, EvalStatus::kCrashed);
  EXPECT_NE(r.message.find("SIGXFSZ"), std::string::npos) << r.message;
  EXPECT_LT(r.message.size(), 4096u);
}

// Links (hard or symbolic) that could point a later reader out of the jail are refused outright,
// and climbing out of /work finds nothing.
TEST_F(WorkerAttack, LinksOutOfTheScratchAreForbidden) {
  const EvalResult r = eval("link_out_of_scratch");
  EXPECT_STATUS(r, EvalStatus::kForbiddenSyscall);
  EXPECT_EQ(r.message.find("opened /etc/shadow"), std::string::npos) << r.message;
}

// Foreign system call ABIs kill the whole worker.
TEST_F(WorkerAttack, Int80AndX32SystemCallsAreForbidden) {
  for (const char* masker : {"int80_syscall", "x32_syscall"}) {
    const EvalResult r = eval(masker);
    EXPECT_STATUS(r, EvalStatus::kForbiddenSyscall);
    EXPECT_NE(r.message.find("allow list"), std::string::npos) << masker << ": " << r.message;
  }
}

// Where the kernel refuses namespaces (simulated: unshare fails with EPERM for this process tree,
// which the worker inherits across exec), the worker falls back to Landlock, seccomp and rlimits,
// says so, and still evaluates; secrets stay out of reach.
TEST(WorkerFallback, WithoutNamespacesTheWorkerStillRunsConfinedAndSaysSo) {
  // The compiler's jail needs namespaces and has no fallback (a compile there is a harness
  // fault), so both maskers are compiled into the cache first; the child only runs them.
  {
    auto warm = test::make_evaluator(test::test_options());
    for (const std::string& source : {test::masker_source("keep_all"),
                                      test::masker_source(test::source_dir() + "/tests/security/maskers/report_environment.cpp")})
      ASSERT_NE(warm->evaluate_source(source).status, EvalStatus::kInternalError);
  }
  bool exited_ok = false;
  const std::string text = test::text_from_child([] {
    scmp_filter_ctx filter = seccomp_init(SCMP_ACT_ALLOW);
    seccomp_rule_add(filter, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(unshare), 0);
    ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    if (seccomp_load(filter) != 0) ::_exit(90);
    ::setenv("ADRS_SECURITY_TEST_API_KEY", kFakeKey, 1);
    auto evaluator = test::make_evaluator(test::test_options());
    const EvalResult ok = evaluator->evaluate_source(test::masker_source("keep_all"));
    const EvalResult env = evaluator->evaluate_source(
        test::masker_source(test::source_dir() + "/tests/security/maskers/report_environment.cpp"));
    return std::string(status_name(ok.status)) + "\n" + ok.sandbox + "\n" + ok.message + "\n" +
                             status_name(env.status) + "\n" + env.message;
  }, &exited_ok);
  ASSERT_TRUE(exited_ok);
  EXPECT_EQ(text.rfind("ok\n", 0), 0u) << text;
  EXPECT_NE(text.find("user namespace (Operation not permitted)"), std::string::npos) << text;
  EXPECT_NE(text.find("private root (no mount namespace)"), std::string::npos) << text;
  EXPECT_NE(text.find("seccomp allow list"), std::string::npos) << text;
  EXPECT_NE(text.find("\nexception\n"), std::string::npos) << text;
  EXPECT_EQ(text.find(kFakeKey), std::string::npos) << text;
}

}  // namespace
}  // namespace adrs

// The jail (evaluator/jail.h), checked from outside: a forked child jails itself and tries what an
// attacker would; the test process looks at the host afterwards. Where the kernel refuses a layer
// the test skips and says which.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <linux/capability.h>
#include <sys/ipc.h>
#include <sys/mount.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "evaluator/jail.h"
#include "tests/test_util.h"

namespace adrs {
namespace {

namespace fs = std::filesystem;

struct JailedRun {
  int wstatus = 0;
  pid_t pid = -1;          // the host pid of the process that entered the jail (the first keeper)
  std::string report;      // the jail's summary, or "ERROR: ..." when enter_jail failed
  std::string output;      // what `body` wrote to its descriptor
  bool user_namespace = false, cgroup = false;
  bool exited(int code) const { return WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == code; }
};

// Forks; the child enters the jail and runs `body` (which writes its findings to the descriptor
// it gets) and exits with what body returns.
JailedRun run_jailed(const JailSpec& spec, const std::function<int(int)>& body) {
  int channel[2];
  EXPECT_EQ(::pipe2(channel, O_CLOEXEC), 0);
  JailedRun run;
  run.pid = ::fork();
  if (run.pid == 0) {
    ::close(channel[0]);
    JailReport report;
    const Status s = enter_jail(spec, &report);
    std::string head = s.ok() ? report.summary() : "ERROR: " + s.message();
    head += "\n" + std::string(report.user_namespace ? "U" : "-") + (report.cgroup ? "C" : "-") + "\n";
    if (::write(channel[1], head.data(), head.size()) < 0) ::_exit(98);
    ::_exit(s.ok() ? body(channel[1]) : 99);
  }
  ::close(channel[1]);
  std::string text;
  char buffer[4096];
  for (ssize_t n; (n = ::read(channel[0], buffer, sizeof buffer)) > 0;) text.append(buffer, static_cast<size_t>(n));
  ::close(channel[0]);
  ::waitpid(run.pid, &run.wstatus, 0);
  const size_t first = text.find('\n');
  const size_t second = first == std::string::npos ? std::string::npos : text.find('\n', first + 1);
  run.report = text.substr(0, first);
  if (second != std::string::npos) {
    run.user_namespace = text[first + 1] == 'U';
    run.cgroup = text[first + 2] == 'C';
    run.output = text.substr(second + 1);
  }
  return run;
}

void say(int fd, const std::string& text) {
  if (::write(fd, text.data(), text.size()) < 0) ::_exit(97);
}

JailSpec system_spec() {
  JailSpec spec;
  for (const char* dir : {"/usr", "/lib", "/lib64", "/bin"}) spec.binds.push_back({dir, "", false, false, true});
  spec.writable_dirs = {"/work"};
  spec.tmpfs_mb = 8;
  return spec;
}

#define SKIP_WITHOUT_USER_NAMESPACE(run)                                                          \
  if (!(run).user_namespace && (run).report.rfind("ERROR", 0) != 0)                               \
  GTEST_SKIP() << "the kernel refused a user namespace, so the jail has no private root here: " \
               << (run).report

class TempDir {
 public:
  TempDir() {
    std::string pattern = "/tmp/adrs-jail-test-XXXXXX";
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(Jail, FilesOutsideItsBindsAreInvisible) {
  TempDir dir;
  const std::string canary = dir.path() + "/canary";
  std::ofstream(canary) << "secret";
  const JailedRun run = run_jailed(system_spec(), [&](int fd) {
    say(fd, std::string(::access(canary.c_str(), F_OK) == 0 ? "canary " : "") +
                (::access("/etc/passwd", F_OK) == 0 ? "passwd " : "") + (::access("/home", F_OK) == 0 ? "home " : "") +
                (::access("/proc/self", F_OK) == 0 ? "proc " : "") + (::access("/usr/bin", F_OK) == 0 ? "usr" : ""));
    return 0;
  });
  SKIP_WITHOUT_USER_NAMESPACE(run);
  ASSERT_TRUE(run.exited(0)) << run.report;
  EXPECT_EQ(run.output, "usr") << "visible in the jail: " << run.output;
}

TEST(Jail, ReadOnlyBindRefusesWritesAndTheHostFileStaysTheSame) {
  TempDir dir;
  const std::string file = dir.path() + "/data";
  std::ofstream(file) << "original";
  fs::permissions(dir.path(), fs::perms::all);
  fs::permissions(file, fs::perms::all);
  JailSpec spec = system_spec();
  spec.binds.push_back({dir.path(), "/data"});
  spec.keep_capabilities = true;  // even the user namespace's root cannot write through it
  const JailedRun run = run_jailed(spec, [&](int fd) {
    const int existing = ::open("/data/data", O_WRONLY | O_TRUNC);
    const int created = ::open("/data/new", O_WRONLY | O_CREAT, 0644);
    say(fd, std::to_string(existing) + " " + std::to_string(created) + " " + std::to_string(::chmod("/data/data", 0600)));
    return 0;
  });
  SKIP_WITHOUT_USER_NAMESPACE(run);
  ASSERT_TRUE(run.exited(0)) << run.report;
  EXPECT_EQ(run.output, "-1 -1 -1");
  std::ifstream in(file);
  EXPECT_EQ(std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>()), "original");
  EXPECT_FALSE(fs::exists(dir.path() + "/new"));
  EXPECT_EQ(fs::status(file).permissions(), fs::perms::all);
}

TEST(Jail, ASealedDirStaysReadOnlyForAProcessWithoutCapabilities) {
  JailSpec spec = system_spec();
  spec.keep_capabilities = true;  // as the compiler jail's init: fill, seal, then drop
  const JailedRun run = run_jailed(spec, [](int fd) {
    std::ofstream("/work/wrapper") << "original";
    if (!seal_read_only("/work").ok()) return 3;
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2] = {};
    if (::syscall(SYS_capset, &header, data) != 0) return 4;
    const int rewritten = ::open("/work/wrapper", O_WRONLY | O_TRUNC);
    const int created = ::open("/work/other", O_WRONLY | O_CREAT, 0644);
    const int remounted = ::mount(nullptr, "/work", nullptr, MS_REMOUNT | MS_BIND, nullptr);
    const int unmounted = ::umount2("/work", MNT_DETACH);
    say(fd, std::to_string(rewritten) + " " + std::to_string(created) + " " + std::to_string(remounted) + " " +
                std::to_string(unmounted) + " " + test::read_file("/work/wrapper"));
    return 0;
  });
  SKIP_WITHOUT_USER_NAMESPACE(run);
  ASSERT_TRUE(run.exited(0)) << run.report;
  EXPECT_EQ(run.output, "-1 -1 -1 -1 original");
}

TEST(Jail, TmpfsSizeAndInodeLimitsHold) {
  JailSpec spec = system_spec();
  spec.tmpfs_mb = 2;
  spec.tmpfs_inodes = 64;
  const JailedRun run = run_jailed(spec, [&](int fd) {
    const int big = ::open("/work/big", O_WRONLY | O_CREAT, 0600);
    std::vector<char> chunk(1 << 20, 'x');
    long written = 0;
    for (int i = 0; i < 8; ++i) {
      const ssize_t n = ::write(big, chunk.data(), chunk.size());
      if (n <= 0) break;
      written += n;
    }
    ::unlink("/work/big");
    int files = 0;
    for (; files < 1000; ++files) {
      const int f = ::open(("/work/f" + std::to_string(files)).c_str(), O_WRONLY | O_CREAT, 0600);
      if (f < 0) break;
      ::close(f);
    }
    say(fd, std::to_string(written >> 20) + " " + std::to_string(files));
    return 0;
  });
  SKIP_WITHOUT_USER_NAMESPACE(run);
  ASSERT_TRUE(run.exited(0)) << run.report;
  long megabytes = -1, files = -1;
  ASSERT_EQ(std::sscanf(run.output.c_str(), "%ld %ld", &megabytes, &files), 2) << run.output;
  EXPECT_LE(megabytes, 2);
  EXPECT_LT(files, 64);
}

TEST(Jail, AsRootTheJailedProcessIsNobodyOutsideAndCannotReadRootFiles) {
  if (::geteuid() != 0) GTEST_SKIP() << "the uid drop happens only when the jail starts as root";
  TempDir dir;
  fs::permissions(dir.path(), fs::perms::all);
  const std::string secret = dir.path() + "/secret";
  std::ofstream(secret) << "key";
  fs::permissions(secret, fs::perms::owner_read | fs::perms::owner_write);
  JailSpec spec = system_spec();
  spec.binds.push_back({dir.path(), "/out", true});
  spec.keep_capabilities = true;  // all capabilities of the user namespace do not help
  const JailedRun run = run_jailed(spec, [&](int fd) {
    const int made = ::open("/out/made", O_WRONLY | O_CREAT, 0644);
    const int read = ::open("/out/secret", O_RDONLY);
    say(fd, std::string(made >= 0 ? "made " : "") + (read >= 0 ? "read" : std::strerror(errno)));
    return 0;
  });
  SKIP_WITHOUT_USER_NAMESPACE(run);
  ASSERT_TRUE(run.exited(0)) << run.report;
  EXPECT_NE(run.report.find("uid/gid 65534"), std::string::npos) << run.report;
  EXPECT_EQ(run.output, "made Permission denied");
  struct stat st {};
  ASSERT_EQ(::stat((dir.path() + "/made").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 65534u);
  EXPECT_EQ(st.st_gid, 65534u);
}

TEST(Jail, LoopbackListenerOfTheHostIsUnreachable) {
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(listener, 4), 0);
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length), 0);
  const JailedRun run = run_jailed(system_spec(), [&](int fd) {
    const int s = ::socket(AF_INET, SOCK_STREAM, 0);
    const int rc = ::connect(s, reinterpret_cast<const sockaddr*>(&address), sizeof address);
    say(fd, rc == 0 ? "connected" : std::strerror(errno));
    return 0;
  });
  SKIP_WITHOUT_USER_NAMESPACE(run);
  ASSERT_TRUE(run.exited(0)) << run.report;
  EXPECT_NE(run.output, "connected");
  EXPECT_LT(::accept(listener, nullptr, nullptr), 0) << "the jailed process reached the host's listener";
  ::close(listener);
}

TEST(Jail, ProcessIsPidOneAndCannotSeeOrSignalTheHost) {
  const pid_t host = ::getpid();
  const JailedRun run = run_jailed(system_spec(), [&](int fd) {
    const int rc = ::kill(host, SIGTERM);
    say(fd, std::to_string(::getpid()) + " " + (rc == 0 ? "signalled" : std::strerror(errno)));
    return 0;
  });
  SKIP_WITHOUT_USER_NAMESPACE(run);
  ASSERT_TRUE(run.exited(0)) << run.report;
  EXPECT_EQ(run.output, "1 No such process");
}

TEST(Jail, ExitCodesAndSignalsAreMirroredOutside) {
  const JailedRun code = run_jailed(system_spec(), [](int) { return 42; });
  SKIP_WITHOUT_USER_NAMESPACE(code);
  EXPECT_TRUE(code.exited(42)) << code.wstatus;
  const JailedRun crash = run_jailed(system_spec(), [](int) {
    *static_cast<volatile int*>(nullptr) = 1;
    return 0;
  });
  ASSERT_TRUE(WIFSIGNALED(crash.wstatus)) << crash.wstatus;
  EXPECT_EQ(WTERMSIG(crash.wstatus), SIGSEGV);
}

TEST(Jail, HostnameIsPrivateAndNewProcessesAreRefusedUnlessAllowed) {
  struct utsname before {};
  ::uname(&before);
  JailSpec spec = system_spec();
  spec.hostname = "caged";
  const JailedRun refused = run_jailed(spec, [](int fd) {
    struct utsname name {};
    ::uname(&name);
    const pid_t child = ::fork();
    if (child == 0) ::_exit(0);
    say(fd, std::string(name.nodename) + " " + (child < 0 ? std::strerror(errno) : "forked"));
    return 0;
  });
  SKIP_WITHOUT_USER_NAMESPACE(refused);
  ASSERT_TRUE(refused.exited(0)) << refused.report;
  EXPECT_EQ(refused.output, "caged Operation not permitted");
  struct utsname after {};
  ::uname(&after);
  EXPECT_STREQ(before.nodename, after.nodename);
  spec.allow_fork = true;
  const JailedRun allowed = run_jailed(spec, [](int fd) {
    const pid_t child = ::fork();
    if (child == 0) ::_exit(3);
    int status = 0;
    ::waitpid(child, &status, 0);
    say(fd, std::to_string(WEXITSTATUS(status)));
    return 0;
  });
  EXPECT_EQ(allowed.output, "3");
}

int host_shm_segments() {
  std::ifstream in("/proc/sysvipc/shm");
  int lines = 0;
  for (std::string line; std::getline(in, line);) ++lines;
  return lines;
}

TEST(Jail, SysVSharedMemoryDoesNotOutliveTheJail) {
  const int before = host_shm_segments();
  const JailedRun run = run_jailed(system_spec(), [](int fd) {
    const int id = ::shmget(IPC_PRIVATE, 1 << 20, IPC_CREAT | 0600);
    say(fd, id >= 0 ? "made" : std::strerror(errno));
    return 0;
  });
  SKIP_WITHOUT_USER_NAMESPACE(run);
  ASSERT_TRUE(run.exited(0)) << run.report;
  EXPECT_EQ(run.output, "made");
  EXPECT_EQ(host_shm_segments(), before);
}

TEST(Jail, CgroupMemoryLimitCountsTmpfsPages) {
  JailSpec spec = system_spec();
  spec.tmpfs_mb = 256;
  spec.memory_mb = 48;
  spec.max_tasks = 8;
  const JailedRun run = run_jailed(spec, [](int fd) {
    const int big = ::open("/work/big", O_WRONLY | O_CREAT, 0600);
    std::vector<char> chunk(1 << 20, 'x');
    for (int i = 0; i < 160; ++i)
      if (::write(big, chunk.data(), chunk.size()) <= 0) break;
    say(fd, "survived");
    return 0;
  });
  if (!run.cgroup) GTEST_SKIP() << "no cgroup could be made here: " << run.report;
  SKIP_WITHOUT_USER_NAMESPACE(run);
  ASSERT_TRUE(WIFSIGNALED(run.wstatus)) << run.report << " / " << run.output;
  EXPECT_EQ(WTERMSIG(run.wstatus), SIGKILL);
  EXPECT_EQ(run.output, "");
  const std::string name = "adrs-jail-" + std::to_string(run.pid);
  EXPECT_FALSE(fs::exists("/sys/fs/cgroup/memory/" + name)) << "the keeper left its cgroup behind";
  EXPECT_FALSE(fs::exists("/sys/fs/cgroup/pids/" + name));
}

TEST(Jail, CgroupsOfKilledKeepersAreRemovedAndLiveOnesKept) {
  const std::string parent = "/sys/fs/cgroup/pids";
  if (::access((parent + "/cgroup.procs").c_str(), W_OK) != 0) GTEST_SKIP() << "no writable cgroup v1 pids hierarchy here";
  const pid_t dead = ::fork();
  if (dead == 0) ::_exit(0);
  ::waitpid(dead, nullptr, 0);
  const std::string stale = parent + "/adrs-jail-" + std::to_string(dead);
  const std::string live = parent + "/adrs-jail-" + std::to_string(::getpid());
  ASSERT_EQ(::mkdir(stale.c_str(), 0700), 0);
  ASSERT_EQ(::mkdir(live.c_str(), 0700), 0);
  remove_stale_jail_cgroups();
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_TRUE(fs::exists(live));
  ::rmdir(live.c_str());
  ::rmdir(stale.c_str());
}

}  // namespace
}  // namespace adrs

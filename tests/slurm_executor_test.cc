// The Slurm executor against a real one-node Slurm cluster started on this machine
// (tests/slurm/cluster.sh: munged, slurmctld and slurmd from Debian's munge and slurm-wlm, a
// generated slurm.conf in a temporary directory). Skipped, with the reason, when the daemons
// cannot start (not installed, not root); every wait is bounded, so a failed start never hangs.
//
// One short run with executor kind = "slurm" whose tasks are submitted held (sbatch --hold), so
// the test decides when each runs: the first task is cancelled (scancel) and must be retried with
// the reason recorded; later the driver is killed (-9) while a task is held, that task is then
// released and finishes with no driver running, and `adrs resume` must adopt its result instead
// of submitting it again. At the end: every row terminal, the budget met exactly, no candidate
// evaluated twice, events for the lost and the adopted task.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "driver/run/run_db.h"
#include "tests/test_util.h"

namespace adrs {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string shell(const std::string& command) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) return out;
  char buffer[4096];
  while (size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) out.append(buffer, n);
  ::pclose(pipe);
  return out;
}

class SlurmCluster : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (fs::temp_directory_path() / ("adrs-slurm-" + std::to_string(::getpid()))).string();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    const std::string script = test::source_dir() + "/tests/slurm/cluster.sh";
    const std::string out = shell("timeout 60 " + script + " start " + dir_ + "/cluster 2>&1");
    if (out.find("SLURM_CONF=") == std::string::npos) {
      reason_ = out.empty() ? "the start script gave no output" : out;
      return;
    }
    ::setenv("SLURM_CONF", (dir_ + "/cluster/slurm.conf").c_str(), 1);
    started_ = true;
  }
  void TearDown() override {
    if (started_) shell("timeout 30 " + test::source_dir() + "/tests/slurm/cluster.sh stop " + dir_ + "/cluster 2>&1");
    ::unsetenv("SLURM_CONF");
    if (!HasFailure()) fs::remove_all(dir_);
  }
  // Held jobs of this run: (id, name).
  std::vector<std::pair<std::string, std::string>> held_jobs() {
    std::vector<std::pair<std::string, std::string>> out;
    std::istringstream in(shell("timeout 10 squeue -h -t PENDING -o '%i %j %r' 2>/dev/null"));
    for (std::string id, name, reason; in >> id >> name >> reason;)
      if (reason.find("Held") != std::string::npos && name.rfind("adrs-", 0) == 0) out.push_back({id, name});
    return out;
  }

  std::string dir_, reason_;
  bool started_ = false;
};

pid_t spawn(const std::vector<std::string>& args, const std::string& log) {
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  if (::chdir(test::source_dir().c_str()) != 0) ::_exit(120);
  FILE* out = std::fopen(log.c_str(), "a");
  if (out) {
    ::dup2(fileno(out), 1);
    ::dup2(fileno(out), 2);
  }
  std::vector<std::string> full{test::binary_dir() + "/adrs"};
  full.insert(full.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : full) argv.push_back(a.data());
  argv.push_back(nullptr);
  ::execv(argv[0], argv.data());
  ::_exit(121);
}

bool exited(pid_t pid, int* code) {
  int status = 0;
  if (::waitpid(pid, &status, WNOHANG) != pid) return false;
  *code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return true;
}

// The finished run: every candidate terminal, the cancelled task recorded with its reason and
// submitted again, the killed driver's task adopted by resume, and status agreeing.
void expect_run_survived(const std::string& run_dir, int budget, const std::string& cancelled, const std::string& adopted_job) {
  std::unique_ptr<RunDb> db;
  ASSERT_TRUE(RunDb::Open(run_dir + "/run.db", RunDb::Mode::kReadOnly, &db).ok());
  std::vector<CandidateRow> rows;
  ASSERT_TRUE(db->list_candidates(&rows, false).ok());
  ASSERT_EQ(static_cast<int>(rows.size()), budget);
  for (const CandidateRow& r : rows) EXPECT_TRUE(r.terminal()) << r.id << " " << r.status;
  nlohmann::json events;
  ASSERT_TRUE(db->list_events(&events).ok());
  bool lost = false, adopted = false;
  for (const auto& e : events) {
    const std::string kind = e.value("kind", ""), detail = e.value("detail", "");
    if (kind == "task_lost" && detail.find("CANCELLED") != std::string::npos && detail.find("submitted again") != std::string::npos) lost = true;
    if (kind == "task_adopted" && detail.find("job " + adopted_job) != std::string::npos) adopted = true;
  }
  EXPECT_TRUE(lost) << "the cancelled task " << cancelled << " is recorded with its reason and retried";
  EXPECT_TRUE(adopted) << "resume adopted job " << adopted_job << " of the killed driver";
  const auto status = test::run_adrs("status " + run_dir + " --json");
  ASSERT_EQ(status.exit_code, 0) << status.err;
  EXPECT_EQ(nlohmann::json::parse(status.out)["candidates"]["finished"].get<int>(), budget);
}

TEST_F(SlurmCluster, ARunOnSlurmRetriesACancelledTaskAndResumeAfterKillAdoptsTheTaskInFlight) {
  if (!started_) GTEST_SKIP() << "no local Slurm cluster: " << reason_;
  const int budget = 7;
  const std::string run_dir = dir_ + "/runs/slurm", log = dir_ + "/log.txt";
  const std::vector<std::string> run_args = {"run", "--config", "runs/demo.toml", "--workload", "smoke", "--device", "cpu",
                                             "--max-candidates", std::to_string(budget), "--runs-dir", dir_ + "/runs", "--name",
                                             "slurm", "--kind", "slurm", "--sbatch-args=--hold", "--poll-s", "0.2",
                                             "--max-tasks", "2", "--quiet"};
  pid_t driver = spawn(run_args, log);
  const auto deadline = Clock::now() + std::chrono::seconds(150);
  std::string cancelled, adopted_job;
  bool killed = false, resumed = false;
  int code = -1;
  while (Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (exited(driver, &code)) {
      if (!killed) break;  // ended on its own before the kill: fails below
      if (!resumed) {
        ASSERT_FALSE(adopted_job.empty());
        // The held task of the killed driver runs with no driver at all; then resume adopts it.
        shell("timeout 10 scontrol release " + adopted_job);
        for (int i = 0; i < 100 && !fs::exists(run_dir + "/tasks") ; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
        std::this_thread::sleep_for(std::chrono::seconds(2));
        driver = spawn({"resume", run_dir, "--quiet"}, log);
        resumed = true;
        continue;
      }
      break;
    }
    for (const auto& [id, name] : held_jobs()) {
      if (cancelled.empty()) {
        cancelled = id;  // the first task: lost, to be retried
        shell("timeout 10 scancel " + id);
      } else if (!killed && fs::exists(run_dir) && adopted_job.empty() && name.find("-c4-") != std::string::npos) {
        adopted_job = id;  // candidate 4's task: the driver dies while it is held
        ::kill(driver, SIGKILL);
        killed = true;
      } else if (id != adopted_job || resumed) {
        shell("timeout 10 scontrol release " + id);
      }
    }
  }
  ASSERT_TRUE(resumed) << "the test never got to kill the driver; log:\n" << test::read_file(log);
  ASSERT_EQ(code, 0) << test::read_file(log);

  expect_run_survived(run_dir, budget, cancelled, adopted_job);
}

}  // namespace
}  // namespace adrs

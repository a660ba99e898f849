#include "driver/run/executor.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "evaluator/eval_task.h"
#include "util/hash.h"
#include "util/subprocess.h"

namespace adrs {

namespace {

class LocalExecutor final : public Executor {
 public:
  EvalResult evaluate(Evaluator& evaluator, const std::string& source, int64_t, const std::atomic<bool>* cancel) override {
    return evaluator.evaluate_source(source, cancel);
  }
  std::string describe() const override { return "local"; }
};

std::vector<std::string> split_words(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string word; in >> word;) out.push_back(word);
  return out;
}

// The environment Slurm commands and tasks get: what they need to find Slurm, munge, the user's
// caches and adrs's value secret, and nothing else (no API key reaches a task).
std::vector<std::string> task_environment() {
  std::vector<std::string> env = {"PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C"};
  for (const char* name : {"HOME", "USER", "LOGNAME", "SLURM_CONF", "XDG_CACHE_HOME", "ADRS_CACHE_DIR", "TMPDIR"})
    if (const char* value = std::getenv(name)) env.push_back(std::string(name) + "=" + value);
  return env;
}

// The last `max_bytes` of a file (Slurm's outputs, written by us or by Slurm for us); "" when it
// cannot be read.
std::string file_tail(const std::string& path, size_t max_bytes) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) return "";
  std::string text = read_fd_tail(fd, max_bytes);
  ::close(fd);
  return text;
}

struct CommandOutput {
  ProcessResult run;
  std::string text;
};

// Runs a Slurm command (sbatch, squeue, sacct, scancel) with a timeout; its output in `text`.
CommandOutput slurm_command(const std::vector<std::string>& argv, const std::string& scratch, double timeout_s = 30) {
  CommandOutput out;
  ProcessOptions p;
  p.argv = argv;
  p.env = task_environment();
  p.output_path = scratch;
  p.timeout_s = timeout_s;
  out.run = run_process(p);
  out.text = file_tail(scratch, 64 << 10);
  while (!out.text.empty() && (out.text.back() == '\n' || out.text.back() == ' ')) out.text.pop_back();
  return out;
}

// A task's directory and job name: the candidate, a readable piece of the workload and a hash of
// the options that make the evaluation, so every setting, seed and stage of a candidate has its own.
std::string task_name(const EvalOptions& o, int64_t id) {
  std::string workload = o.workload.substr(o.workload.find_last_of('/') + 1);  // a trace path: its file name
  for (char& ch : workload)
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-' && ch != '_') ch = '_';
  workload.resize(std::min<size_t>(workload.size(), 24));
  const std::string key = o.workload + "|" + std::to_string(o.target_density) + "|" + std::to_string(o.seed) + "|" + o.track + "|" +
                          std::to_string(o.workload_seed.value_or(0));
  return "c" + std::to_string(id) + "-" + workload + "-" + hex64(hash64(key)).substr(0, 8);
}

std::string program(const std::string& name) {
  for (const char* dir : {"/usr/local/bin/", "/usr/bin/", "/bin/"})
    if (::access((std::string(dir) + name).c_str(), X_OK) == 0) return std::string(dir) + name;
  return name;
}

class SlurmExecutor final : public Executor {
 public:
  SlurmExecutor(const RunConfig& config, std::string run_dir, RunDb* db)
      : config_(config), run_dir_(std::move(run_dir)), db_(db), in_allocation_(std::getenv("SLURM_JOB_ID") != nullptr),
        run_tag_(hex64(hash64(run_dir_)).substr(0, 8)) {}

  std::string describe() const override {
    return std::string("slurm (") + (in_allocation_ ? "srun inside allocation " + std::string(std::getenv("SLURM_JOB_ID")) : "sbatch") +
           ", at most " + std::to_string(config_.max_tasks) + " tasks)";
  }

  EvalResult evaluate(Evaluator& evaluator, const std::string& source, int64_t id, const std::atomic<bool>* cancel) override {
    const std::string name = task_name(evaluator.options(), id);
    const std::string dir = run_dir_ + "/tasks/" + name;
    std::string reasons;
    for (int attempt = 0; attempt <= config_.max_retries; ++attempt) {
      if (cancel && cancel->load()) return cancelled();
      Slot slot(this, cancel);
      if (!slot.held) return cancelled();
      std::string lost;
      EvalResult r = run_task(evaluator, source, name, dir, cancel, &lost);
      if (lost.empty()) {
        if (r.status != EvalStatus::kCancelled) {
          std::error_code ignored;
          std::filesystem::remove_all(dir, ignored);  // the result is in hand; the database gets it next
        }
        return r;
      }
      if (cancel && cancel->load()) return cancelled();
      reasons += (reasons.empty() ? "" : "; ") + lost;
      const std::string detail = "candidate " + std::to_string(id) + " (" + name + "): " + lost +
                                 (attempt < config_.max_retries ? "; submitted again (retry " + std::to_string(attempt + 1) + " of " +
                                                                      std::to_string(config_.max_retries) + ")"
                                                                : "; no retries left");
      // The event is a record for people; a failed write does not change what happens next.
      if (db_) db_->add_event("task_lost", detail).IgnoreError();
      std::error_code ignored;
      std::filesystem::remove_all(dir, ignored);  // the next attempt starts clean, with a new nonce
    }
    EvalResult fault;
    fault.status = EvalStatus::kInternalError;
    fault.message = "the Slurm task of this evaluation was lost " + std::to_string(config_.max_retries + 1) + " times (" + reasons +
                    "); check the cluster (adrs status shows the events), then adrs resume";
    return fault;
  }

 private:
  // A place among the max_tasks tasks at once.
  struct Slot {
    Slot(SlurmExecutor* e, const std::atomic<bool>* cancel) : executor(e) {
      std::unique_lock lock(e->mutex_);
      while (e->running_ >= e->config_.max_tasks) {
        if (cancel && cancel->load()) return;
        e->cv_.wait_for(lock, std::chrono::milliseconds(100));
      }
      ++e->running_;
      held = true;
    }
    ~Slot() {
      if (!held) return;
      std::lock_guard lock(executor->mutex_);
      --executor->running_;
      executor->cv_.notify_one();
    }
    SlurmExecutor* executor;
    bool held = false;
  };

  static EvalResult cancelled() {
    EvalResult r;
    r.status = EvalStatus::kCancelled;
    r.message = "evaluation cancelled (its Slurm task, if any, is adopted by resume)";
    return r;
  }

  std::string job_name(const std::string& task) const { return "adrs-" + run_tag_ + "-" + task; }

  // One submission (or the adoption of one made before a kill). `lost` says why it gave no result.
  EvalResult run_task(Evaluator& evaluator, const std::string& source, const std::string& name, const std::string& dir,
                      const std::atomic<bool>* cancel, std::string* lost) {
    std::string nonce, job;
    if (!adopt(source, dir, name, &nonce, &job)) {
      if (Status s = prepare(evaluator, source, dir, &nonce); !s.ok()) return internal(s.message());
      if (Status s = submit(name, dir, &job); !s.ok()) return internal(s.message());
    }
    return wait_for(dir, nonce, job, cancel, lost);
  }

  static EvalResult internal(const std::string& message) {
    EvalResult r;
    r.status = EvalStatus::kInternalError;
    r.message = message;
    return r;
  }

  // A task directory from before a kill: adopted when it holds this source and a recorded job;
  // a job submitted but never recorded is cancelled (found by its name) and the task starts over.
  bool adopt(const std::string& source, const std::string& dir, const std::string& name, std::string* nonce, std::string* job) {
    std::string task_text, job_text;
    if (!read_task_file(dir, "task.json", 64 << 20, &task_text).ok()) return false;
    EvalTask task;
    const nlohmann::json j = nlohmann::json::parse(task_text, nullptr, false);
    const bool same = j.is_object() && task_from_json(j, &task).ok() && task.source == source;
    if (same && read_task_file(dir, "job", 64, &job_text).ok() && !job_text.empty()) {
      *nonce = task.nonce;
      *job = job_text;
      if (db_)  // a record for people, as task_lost
        db_->add_event("task_adopted", "candidate task " + name + ": adopted Slurm job " + job_text + " submitted before a restart").IgnoreError();
      return true;
    }
    cancel_by_name(name);
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
    return false;
  }

  void cancel_by_name(const std::string& name) {
    slurm_command({program("scancel"), "--name", job_name(name)}, scratch("scancel"));
  }

  std::string scratch(const std::string& what) const {
    return run_dir_ + "/tasks/." + what + "-" + std::to_string(::gettid()) + ".out";
  }

  Status prepare(Evaluator& evaluator, const std::string& source, const std::string& dir, std::string* nonce) {
    std::error_code error;
    std::filesystem::create_directories(dir, error);
    if (error) return Status::Error("cannot create the task directory " + dir + ": " + error.message());
    std::random_device random;
    *nonce = hex64((static_cast<uint64_t>(random()) << 32) ^ random() ^ static_cast<uint64_t>(::getpid()));
    EvalTask task;
    task.nonce = *nonce;
    task.options = evaluator.options();
    task.options.gpus.clear();  // Slurm gives the task its GPUs (CUDA_VISIBLE_DEVICES): the first is its own
    task.source = source;
    if (Status s = write_task_file(dir, "masker.cpp", source); !s.ok()) return s;
    return write_task_file(dir, "task.json", task_to_json(task).dump());
  }

  std::vector<std::string> resource_args(const std::string& name, const std::string& dir) const {
    std::vector<std::string> a = {"--job-name=" + job_name(name), "--ntasks=1", "--cpus-per-task=" + std::to_string(config_.cpus_per_task),
                                  "--time=" + config_.time_limit, "--output=" + dir + "/slurm.out", "--export=ALL"};
    if (!config_.partition.empty()) a.push_back("--partition=" + config_.partition);
    if (!config_.account.empty()) a.push_back("--account=" + config_.account);
    if (!config_.gres.empty()) a.push_back("--gres=" + config_.gres);
    if (config_.gpus_per_task > 0) a.push_back("--gpus-per-task=" + std::to_string(config_.gpus_per_task));
    return a;
  }

  // sbatch outside an allocation; inside one, an sbatch-free step through srun run in the
  // background by a tiny batch of our own is not possible, so srun runs as a child we wait for.
  Status submit(const std::string& name, const std::string& dir, std::string* job) {
    const std::string adrs = executable_dir() + "/adrs";
    if (in_allocation_) {
      *job = "srun";
      return write_task_file(dir, "job", *job);
    }
    std::vector<std::string> argv = {program("sbatch"), "--parsable"};
    for (const std::string& a : resource_args(name, dir)) argv.push_back(a);
    for (const std::string& a : split_words(config_.sbatch_args)) argv.push_back(a);
    argv.push_back("--wrap=exec " + adrs + " eval-task " + dir);
    const CommandOutput out = slurm_command(argv, scratch("sbatch"));
    if (!out.run.start.ok()) return Status::Error("cannot run sbatch: " + out.run.start.message() + " (is Slurm installed?)");
    if (!out.run.exited || out.run.exit_code != 0)
      return Status::Error("sbatch refused the evaluation task: " + out.text.substr(0, 500) + " (check executor.partition, account, gres)");
    *job = out.text.substr(0, out.text.find(';'));
    if (job->empty() || job->find_first_not_of("0123456789") != std::string::npos)
      return Status::Error("sbatch gave no job id: '" + out.text.substr(0, 200) + "'");
    return write_task_file(dir, "job", *job);
  }

  // Waits for the result file; a job that ended without one is lost (with the reason).
  EvalResult wait_for(const std::string& dir, const std::string& nonce, const std::string& job, const std::atomic<bool>* cancel,
                      std::string* lost) {
    if (job == "srun") return run_step(dir, nonce, cancel, lost);
    for (;;) {
      EvalResult r;
      if (take_result(dir, nonce, &r, lost)) return r;
      if (!lost->empty()) return r;
      const std::string state = job_state(job);
      if (state.empty() || is_final(state)) {
        if (take_result(dir, nonce, &r, lost) || !lost->empty()) return r;  // written just before the job ended
        *lost = "Slurm job " + job + " ended (" + (state.empty() ? "no longer known to squeue" : state) + ") without a result";
        return r;
      }
      for (double waited = 0; waited < config_.poll_s; waited += 0.05) {
        if (cancel && cancel->load()) return cancelled();
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
  }

  EvalResult run_step(const std::string& dir, const std::string& nonce, const std::atomic<bool>* cancel, std::string* lost) {
    std::vector<std::string> argv = {program("srun"), "--exclusive", "--nodes=1"};
    for (const std::string& a : resource_args(dir.substr(dir.rfind('/') + 1), dir)) argv.push_back(a);
    for (const std::string& a : split_words(config_.srun_args)) argv.push_back(a);
    argv.push_back(executable_dir() + "/adrs");
    argv.push_back("eval-task");
    argv.push_back(dir);
    ProcessOptions p;
    p.argv = argv;
    p.env = task_environment();
    p.env.push_back(std::string("SLURM_JOB_ID=") + std::getenv("SLURM_JOB_ID"));
    p.output_path = dir + "/srun.out";
    p.cancel = cancel;
    const ProcessResult run = run_process(p);
    if (run.cancelled) return cancelled();
    EvalResult r;
    if (take_result(dir, nonce, &r, lost) || !lost->empty()) return r;
    *lost = "srun step ended (" + (run.exited ? "exit code " + std::to_string(run.exit_code) : signal_description(run.signal)) +
            ") without a result: " + file_tail(dir + "/srun.out", 300);
    return r;
  }

  // True with *r set when a valid result of this task is there. A file of another task (an old
  // submission) is not ours; a damaged or oversized one makes the task lost.
  bool take_result(const std::string& dir, const std::string& nonce, EvalResult* r, std::string* lost) {
    std::string text;
    if (!read_task_file(dir, "result.json", kMaxTaskResultBytes, &text).ok()) {
      struct stat st {};
      if (::lstat((dir + "/result.json").c_str(), &st) == 0 && (!S_ISREG(st.st_mode) || st.st_size > static_cast<off_t>(kMaxTaskResultBytes)))
        *lost = "the task's result.json is not a regular file of at most 1 MiB";
      return false;
    }
    const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_object() && j.contains("task") && j["task"] != nonce) return false;
    if (Status s = parse_task_result(text, nonce, r); !s.ok()) {
      *lost = "invalid result file: " + s.message();
      return false;
    }
    if (r->status == EvalStatus::kInternalError) {
      *lost = "the node could not evaluate: " + r->message.substr(0, 300);
      return false;
    }
    return true;
  }

  std::string job_state(const std::string& job) {
    const CommandOutput out = slurm_command({program("squeue"), "-h", "-t", "all", "-j", job, "-o", "%T"}, scratch("squeue"));
    if (out.run.exited && out.run.exit_code == 0 && !out.text.empty()) return out.text;
    // Gone from the queue: sacct knows how it ended, when the cluster keeps accounting.
    const CommandOutput acct = slurm_command({program("sacct"), "-n", "-X", "-P", "-j", job, "-o", "State"}, scratch("sacct"));
    if (acct.run.exited && acct.run.exit_code == 0 && !acct.text.empty()) return acct.text.substr(0, acct.text.find('\n'));
    return "";
  }

  static bool is_final(const std::string& state) {
    for (const char* s : {"PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "SUSPENDED", "REQUEUED", "RESIZING", "STAGE_OUT"})
      if (state.rfind(s, 0) == 0) return false;
    return true;
  }

  RunConfig config_;
  std::string run_dir_;
  RunDb* db_;
  bool in_allocation_;
  std::string run_tag_;
  std::mutex mutex_;
  std::condition_variable cv_;
  int running_ = 0;
};

}  // namespace

Status make_executor(const RunConfig& config, const std::string& run_dir, RunDb* db, std::unique_ptr<Executor>* out) {
  if (config.executor == "local") {
    *out = std::make_unique<LocalExecutor>();
    return Status::Ok();
  }
  if (config.executor != "slurm") return Status::Error("executor.kind must be local or slurm");
  std::error_code error;
  std::filesystem::create_directories(run_dir + "/tasks", error);
  if (error) return Status::Error("cannot create " + run_dir + "/tasks: " + error.message());
  *out = std::make_unique<SlurmExecutor>(config, run_dir, db);
  return Status::Ok();
}

}  // namespace adrs

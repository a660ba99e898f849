#include "evaluator/evaluator.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <optional>

#include <spdlog/spdlog.h>

#include "evaluator/jail.h"
#include "evaluator/key_reads.h"
#include "evaluator/synthetic.h"
#include "evaluator/worker_channels.h"
#include "evaluator/worker_exit.h"
#include "evaluator/worker_protocol.h"
#include "util/resources.h"
#include "util/hash.h"
#include "util/parallel.h"
#include "util/subprocess.h"

namespace adrs {

namespace fs = std::filesystem;

const char* status_name(EvalStatus status) {
  switch (status) {
    case EvalStatus::kOk: return "ok";
    case EvalStatus::kCompileError: return "compile_error";
    case EvalStatus::kCrashed: return "crashed";
    case EvalStatus::kTimeout: return "timeout";
    case EvalStatus::kOutOfMemory: return "out_of_memory";
    case EvalStatus::kException: return "exception";
    case EvalStatus::kForbiddenSyscall: return "forbidden_syscall";
    case EvalStatus::kInvalidMask: return "invalid_mask";
    case EvalStatus::kBadMasker: return "bad_masker";
    case EvalStatus::kCancelled: return "cancelled";
    case EvalStatus::kInternalError: return "internal_error";
  }
  return "internal_error";
}

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::string temp_root() {
  const char* tmp = std::getenv("TMPDIR");
  return tmp && *tmp ? tmp : "/tmp";
}

std::string make_temp_dir(const std::string& parent, const std::string& prefix) {
  std::string pattern = parent + "/" + prefix + "XXXXXX";
  if (!::mkdtemp(pattern.data())) return "";
  // Only adrs itself: workers get descriptors, never a path in here.
  fs::permissions(pattern, fs::perms::owner_all);
  return pattern;
}

// Evaluator directories are named adrs-eval-<pid>-XXXXXX. One whose process is gone was left by
// a kill -9; remove it so that killed runs do not fill the disk.
void remove_stale_eval_dirs() {
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(temp_root(), error)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("adrs-eval-", 0) != 0) continue;
    const long pid = std::strtol(name.c_str() + 10, nullptr, 10);
    if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) fs::remove_all(entry.path(), error);
  }
}

// Turns the way the worker ended into a status and a message. Only the parent's own evidence
// decides a harness fault: the worker's "ready" line arrives on a pipe it closes before it loads
// the masker, so an end without it happened in trusted code (internal_error); after it, every
// exit code and signal, whatever it claims, is the candidate's own outcome.
EvalResult classify_worker_end(const ProcessResult& run, bool ready, const std::string& message, double timeout_s) {
  EvalResult r;
  auto with_message = [&](const std::string& head) { return message.empty() ? head : head + ": " + message; };
  // Our crash reporter ends a worker that is PID 1 of its namespace (where raising a signal on
  // itself does nothing) with 128 + signal.
  int signal = run.exited ? 0 : run.signal;
  if (run.exited && run.exit_code > 128 && run.exit_code <= 128 + 64) signal = run.exit_code - 128;
  if (!run.start.ok()) {
    r.status = EvalStatus::kInternalError;
    r.message = run.start.message();
  } else if (run.cancelled) {
    r.status = EvalStatus::kCancelled;
    r.message = "evaluation cancelled";
  } else if (!ready) {
    r.status = EvalStatus::kInternalError;
    std::string how = run.timed_out ? "did not get ready within the timeout"
                      : run.exited  ? "exited with code " + std::to_string(run.exit_code)
                                    : "died with " + signal_description(run.signal);
    r.message = with_message("the masker worker failed before it loaded the masker (" + how + ")");
  } else if (run.timed_out) {
    r.status = EvalStatus::kTimeout;
    char text[128];
    std::snprintf(text, sizeof text, "the masker ran past the %.3g s timeout and was killed", timeout_s);
    r.message = text;
  } else if (signal == SIGXCPU) {
    r.status = EvalStatus::kTimeout;
    r.message = "the masker used up its CPU-time limit";
  } else if (signal == SIGSYS) {
    // A call outside the allow list kills the whole worker (no handler runs); a trapped one
    // leaves a message naming the call.
    r.status = EvalStatus::kForbiddenSyscall;
    r.message = with_message("the masker made a forbidden system call, one not on the sandbox's allow list (processes, "
                             "exec, sockets, signals to others, IPC, file metadata and foreign ABIs are refused)");
  } else if (signal != 0) {
    r.status = EvalStatus::kCrashed;
    r.message = message.empty() ? "the masker crashed" : message;
    r.message += " with " + signal_description(signal);
    if (signal == SIGKILL) r.message += " (killed from outside: usually out of memory)";
    if (signal == SIGXFSZ) r.message += " (it wrote more output than allowed)";
  } else {
    switch (run.exit_code) {
      case worker_exit::kOk: r.status = EvalStatus::kOk; break;
      case worker_exit::kMaskerException: r.status = EvalStatus::kException; r.message = message; break;
      case worker_exit::kOutOfMemory: r.status = EvalStatus::kOutOfMemory; r.message = message; break;
      case worker_exit::kForbiddenSyscall: r.status = EvalStatus::kForbiddenSyscall; r.message = message; break;
      case worker_exit::kBadMasker: r.status = EvalStatus::kBadMasker; r.message = message; break;
      default:
        r.status = EvalStatus::kCrashed;
        r.message = with_message("the worker ended with exit code " + std::to_string(run.exit_code) +
                                 " after it loaded the masker");
    }
  }
  return r;
}

}  // namespace

Status Evaluator::Create(const EvalOptions& options, std::unique_ptr<Evaluator>* out) {
  if (!(options.target_density >= 0.0 && options.target_density <= 1.0))
    return Status::Error("--target-density must be in [0, 1] (a fraction of keys, e.g. 0.1)");
  if (!(options.timeout_s > 0.0)) return Status::Error("--timeout must be a positive number of seconds");
  if (options.track != "oracle" && options.track != "blind")
    return Status::Error("--track must be oracle (exact scores visible) or blind (key reads counted and charged)");
  if (!(options.access_ratio > 0.0)) return Status::Error("--access-ratio must be > 0");
  if (options.threads < 0) return Status::Error("--threads must be >= 0 (0 uses every core)");
  std::unique_ptr<Evaluator> e(new Evaluator());
  e->options_ = options;
  if (e->options_.cache_dir.empty()) e->options_.cache_dir = default_cache_dir();
  // The compiler's jail binds cache folders by absolute path; a relative one (a run's default
  // runs/<name>/cache) would be refused there.
  std::error_code absolute_failed;
  const std::filesystem::path absolute_cache = std::filesystem::absolute(e->options_.cache_dir, absolute_failed);
  if (!absolute_failed) e->options_.cache_dir = absolute_cache.lexically_normal().string();
  if (Status s = e->load_workload_and_backends(); !s.ok()) return s;
  remove_stale_eval_dirs();
  remove_stale_jail_cgroups();
  e->scratch_dir_ = make_temp_dir(temp_root(), "adrs-eval-" + std::to_string(::getpid()) + "-");
  if (e->scratch_dir_.empty()) return Status::Fault("cannot create a temporary directory (is /tmp full? set TMPDIR)");
  const std::string input_path = e->scratch_dir_ + "/workload.bin";
  const Reference& ref = e->backend().reference();
  const bool blind = options.track == "blind";
  if (Status s = write_worker_input(e->workload_, options.hide_scores || blind ? nullptr : ref.scores.data(),
                                    options.expose_values, input_path, !blind);
      !s.ok())
    return s;
  // Opened once, read-only; every worker maps this descriptor (no worker sees a path of ours).
  e->input_fd_ = ::open(input_path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  struct stat st {};
  if (e->input_fd_ < 0 || ::fstat(e->input_fd_, &st) != 0)
    return Status::Error("cannot open the worker input " + input_path + ": " + std::strerror(errno));
  e->input_bytes_ = st.st_size;
  e->probe_rows_ = probe_rows(e->workload_.num_rows(), options.probe_seed, options.probe_rows);
  *out = std::move(e);
  return Status::Ok();
}

Evaluator::~Evaluator() {
  if (input_fd_ >= 0) ::close(input_fd_);
  if (!scratch_dir_.empty()) {
    std::error_code ignored;
    fs::remove_all(scratch_dir_, ignored);
  }
}

EvalResult Evaluator::evaluate_source(const std::string& source, const std::atomic<bool>* cancel) {
  CompileOptions compile;
  compile.cache_dir = options_.cache_dir + "/maskers";
  compile.timeout_s = options_.compile_timeout_s;
  compile.cancel = cancel;
  const CompileResult built = compile_masker(source, compile);
  EvalResult result;
  if (built.ok()) {
    result = evaluate_shared_object(built.so_path, cancel);
  } else {
    using Outcome = CompileResult::Outcome;
    result.status = built.outcome == Outcome::kCancelled     ? EvalStatus::kCancelled
                    : built.outcome == Outcome::kSetupError ? EvalStatus::kInternalError
                                                            : EvalStatus::kCompileError;
    result.message = built.message;
  }
  result.compile_log = built.log;
  result.compile_cached = built.cached;
  result.compile_s = built.wall_s;
  return result;
}

namespace {

// What one worker run may use and send back: its selections (entries and bytes), memory on top of
// the mapped workload, its private tmpfs, threads.
struct WorkerLimits {
  int64_t max_entries = 0;
  long max_output_mb = 0, memory_mb = 0, tmpfs_mb = 0;
  int threads = 1;
};

WorkerLimits worker_limits(const Workload& workload, const EvalOptions& options, int64_t input_bytes, const WorkerChannels& channels) {
  WorkerLimits l;
  const int64_t rows = workload.num_rows();
  for (int64_t r = 0; r < rows; ++r) l.max_entries += max_entries_per_row(workload.num_keys(r)) + 1;
  l.max_output_mb = static_cast<long>((l.max_entries * 12 + rows * 8) >> 20) + 16;
  // The mapped workload counts against the address-space limit; the limit is on top of it.
  l.memory_mb = options.memory_mb + static_cast<long>(input_bytes >> 20) + l.max_output_mb;
  // The private tmpfs holds the masker's copy and the masker's scratch files.
  l.tmpfs_mb = static_cast<long>(channels.masker_bytes >> 20) + 1 + kWorkerScratchMb;
  l.threads = resolve_threads(options.threads);
  return l;
}

ProcessOptions worker_process(const WorkerLimits& l, const EvalOptions& options, int input_fd, const WorkerChannels& channels,
                              const std::atomic<bool>* cancel) {
  ProcessOptions worker;
  worker.argv = {worker_binary(), "select",
                 "--parent", std::to_string(::getpid()),
                 "--threads", std::to_string(l.threads),
                 "--seed", std::to_string(options.seed),
                 "--target-density", std::to_string(options.target_density),
                 "--memory-mb", std::to_string(l.memory_mb),
                 "--cpu-seconds", std::to_string(static_cast<long>(options.timeout_s * l.threads) + 2),
                 "--max-output-mb", std::to_string(l.max_output_mb),
                 "--tmpfs-mb", std::to_string(l.tmpfs_mb)};
  // No variable of ours reaches candidate code: API keys stay in this process.
  worker.env = {"PATH=/usr/bin:/bin", "LANG=C", "HOME=/work", "TMPDIR=/work"};
  worker.cwd = "/";
  worker.fds = {input_fd, channels.masker, channels.selections, channels.message, channels.ready_write};
  worker.output_fd = channels.log;
  worker.timeout_s = options.timeout_s;
  worker.cancel = cancel;
  return worker;
}

// Runs the worker. On the blind track its key reads are answered and counted here, on the other
// end of a socket, and `charges` gets each row's reads (nullptr elsewhere). An error is a fault of
// ours (the socket could not be made), never the candidate's.
Status run_worker(const Workload& workload, bool blind, ProcessOptions worker, ProcessResult* run,
                  std::optional<std::vector<double>>* charges) {
  if (!blind) {
    *run = run_process(worker);
    return Status::Ok();
  }
  int key_socket[2] = {-1, -1};
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, key_socket) != 0)
    return Status::Fault(std::string("cannot create the key-read socket: ") + std::strerror(errno));
  worker.argv.insert(worker.argv.end(), {"--track", "blind"});
  worker.fds.push_back(key_socket[1]);
  auto key_server = std::make_unique<KeyServer>(workload, key_socket[0]);
  *run = run_process(worker);
  key_server->stop();
  *charges = key_server->charges();
  key_server.reset();
  ::close(key_socket[0]);
  ::close(key_socket[1]);
  return Status::Ok();
}

// The worker's verdict from how it ended, what it said and printed, and (when it ended well) its
// selections, read from the memfd we gave it and checked against the limits.
EvalResult worker_outcome(const ProcessResult& run, WorkerChannels& channels, const EvalOptions& options, int64_t rows,
                          int64_t max_entries, Selections* selections) {
  channels.close_ready_write();
  std::string sandbox;
  const bool ready = channels.read_ready(&sandbox);
  std::string message = read_fd_tail(channels.message, 2000);
  while (!message.empty() && message.back() == '\n') message.pop_back();
  EvalResult result = classify_worker_end(run, ready, message, options.timeout_s);
  if (result.status == EvalStatus::kCrashed && options.track == "blind")
    result.message += " (row.keys and row.scores are nullptr on the blind track: read keys through row.logits(), "
                      "row.logits_of(), row.read_keys(), row.partial_logits() or row.page_bounds(); masker_api.h)";
  result.sandbox = sandbox;
  const std::string printed = read_fd_tail(channels.log, 1500);
  if (!result.ok() && !printed.empty() && result.status != EvalStatus::kTimeout)
    result.message += "\nmasker output (last lines):\n" + printed;
  if (result.ok())
    if (Status s = read_selections(channels.selections, rows, max_entries, selections); !s.ok()) {
      result.status = EvalStatus::kInvalidMask;
      result.message = s.message();
    }
  return result;
}

}  // namespace

EvalResult Evaluator::evaluate_shared_object(const std::string& so_path, const std::atomic<bool>* cancel) {
  const auto start = std::chrono::steady_clock::now();
  EvalResult result;
  // Everything the worker gets or gives back is a descriptor opened here, before the spawn:
  // the masker, the input, and memfds for selections, messages and its output. Nothing is read
  // back by path afterwards, so a link or FIFO the masker leaves somewhere cannot fool us.
  WorkerChannels channels;
  if (Status s = channels.open(so_path); !s.ok()) {
    result.message = s.message();
    return result;
  }
  const WorkerLimits limits = worker_limits(workload_, options_, input_bytes_, channels);
  if (Status s = check_file_size_limit(static_cast<uint64_t>(limits.max_output_mb) << 20, "the worker's selections"); !s.ok()) {
    result.message = s.message();  // internal_error: the candidate stays in flight
    return result;
  }
  ProcessResult run;
  std::optional<std::vector<double>> charges;
  if (Status s = run_worker(workload_, options_.track == "blind", worker_process(limits, options_, input_fd_, channels, cancel), &run,
                            &charges);
      !s.ok()) {
    result.message = s.message();  // internal_error
    return result;
  }
  if (run.pid > 0) remove_jail_cgroups(run.pid);  // only left behind when the worker was killed
  Selections selections;
  result = worker_outcome(run, channels, options_, workload_.num_rows(), limits.max_entries, &selections);
  result.worker_s = seconds_since(start);
  if (!result.ok()) return result;
  EvalResult scored = evaluate_selections(selections, charges ? &*charges : nullptr);
  scored.worker_s = result.worker_s;
  scored.sandbox = result.sandbox;
  return scored;
}

// Blind track: the access density (charged key reads / n, averaged over rows like the density)
// and the penalty on max(density, access_density / access_ratio), per layer call too (the
// bootstrap intervals resample calls).
static void charge_key_reads(const Workload& w, const std::vector<double>& charges, double access_ratio, Metrics* m) {
  const int64_t rows = w.num_rows();
  double sum = 0;
  for (int64_t r = 0; r < rows; ++r) sum += charges[static_cast<size_t>(r)] / w.num_keys(r);
  m->access_density = rows ? sum / rows : 0.0;
  for (size_t c = 0; c < w.calls.size(); ++c) {
    double call = 0;
    for (int64_t r = c * w.num_q_heads; r < static_cast<int64_t>(c + 1) * w.num_q_heads; ++r) call += charges[static_cast<size_t>(r)] / w.num_keys(r);
    m->call_densities[c] = std::max(m->call_densities[c], call / w.num_q_heads / access_ratio);
  }
  const double charged = std::max(m->density, *m->access_density / access_ratio);
  m->penalty = 100.0 * std::max(0.0, charged - m->target_density);
  m->score = -(m->error + m->penalty);
}

EvalResult Evaluator::evaluate_selections(const Selections& selections, const std::vector<double>* charges) {
  const auto start = std::chrono::steady_clock::now();
  EvalResult result;
  if (Status s = validate_selections(workload_, selections); !s.ok()) {
    result.status = EvalStatus::kInvalidMask;
    result.message = s.message();
    return result;
  }
  Selections sorted;
  const Selections& canonical = canonical_form(selections, &sorted);
  if (Status s = validate_merged(workload_, canonical); !s.ok()) {
    result.status = EvalStatus::kInvalidMask;
    result.message = s.message();
    return result;
  }
  RowErrors errors;
  if (Status s = score_on_a_device(canonical, &errors, &result.device); !s.ok()) {
    result.status = EvalStatus::kInternalError;
    result.message = "scoring failed on the " + result.device + " backend: " + s.message() +
                     " (the candidate was not scored; `--device cpu` avoids the GPU)";
    result.device.clear();
    return result;
  }
  result.metrics = compute_metrics(workload_, backend().reference(), canonical, errors, options_.target_density);
  if (options_.track == "blind") {
    const std::vector<double> none(static_cast<size_t>(workload_.num_rows()), 0.0);
    charge_key_reads(workload_, charges && charges->size() == none.size() ? *charges : none, options_.access_ratio, &result.metrics);
  }
  // A number that is not finite would sort anywhere in the population: the candidate is invalid.
  for (double value : {result.metrics.score, result.metrics.error, result.metrics.density, result.metrics.penalty})
    if (!std::isfinite(value)) {
      result.status = EvalStatus::kInvalidMask;
      result.message = "the masker's selections give a non-finite score (error " + std::to_string(result.metrics.error) +
                       ", density " + std::to_string(result.metrics.density) +
                       "); check weights that are huge or rows whose weights overflow";
      return result;
    }
  result.status = EvalStatus::kOk;
  result.fingerprint = selections_fingerprint(canonical, probe_rows_);
  result.metrics_s = seconds_since(start);
  return result;
}

nlohmann::json result_to_json(const EvalResult& result, const Evaluator& evaluator) {
  nlohmann::json j;
  if (result.ok()) {
    j = metrics_to_json(result.metrics);
  } else {
    for (const char* key : {"score", "error", "density", "penalty"}) j[key] = nullptr;
    j["target_density"] = evaluator.options().target_density;
    j["rows"] = evaluator.workload().num_rows();
  }
  j["status"] = status_name(result.status);
  j["message"] = result.message;
  j["workload"] = evaluator.workload().name;
  j["eval_seed"] = evaluator.options().seed;
  j["track"] = evaluator.options().track;
  j["device"] = result.device.empty() ? evaluator.backend().label() : result.device;
  j["sandbox"] = result.sandbox;
  j["timings"] = {{"compile_s", result.compile_s}, {"worker_s", result.worker_s},
                  {"metrics_s", result.metrics_s}, {"compile_cached", result.compile_cached}};
  return j;
}

}  // namespace adrs

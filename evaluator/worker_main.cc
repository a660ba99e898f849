// adrs-worker: the only process that runs candidate code.
//
//   adrs-worker select --parent PID [--threads N] [--seed S] [--target-density D] [--memory-mb M]
//                      [--cpu-seconds C] [--max-output-mb F] [--tmpfs-mb T] [--track oracle|blind]
//   adrs-worker compile ...   (the compiler jail: evaluator/compile_worker.h)
//
// `select` takes everything as descriptors (evaluator/worker_channels.h): it maps the input, enters
// the jail (evaluator/jail.h: uid 65534, namespaces, cgroup, a private tmpfs root), copies the
// masker into it, confines itself further (evaluator/sandbox.h: Landlock, seccomp allow list),
// says "ready" with its sandbox summary on the ready pipe and closes it, and only then loads the
// masker and runs select() on every row; failures leave a message and an exit code
// (evaluator/worker_exit.h). `compile` runs the compiler in its own jail (evaluator/compile_main.cc).
#include <dlfcn.h>
#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#define ADRS_MASKER_HOST
#include "masker_api.h"
#include "evaluator/compile_worker.h"
#include "evaluator/jail.h"
#include "evaluator/key_reads.h"
#include "evaluator/sandbox.h"
#include "evaluator/selections.h"
#include "evaluator/worker_channels.h"
#include "evaluator/worker_exit.h"
#include "evaluator/worker_protocol.h"
#include "util/hash.h"
#include "util/parallel.h"

namespace adrs {
namespace {

using EntryFn = int (*)(const Row*, adrs_emit_fn, void*, char*, size_t);

// Answers Row's readers for one row: in-process from the mapped keys (oracle track), or through
// the evaluator's KeyServer (blind track: the worker has no keys, and the charge is counted there).
struct RowReads {
  const Workload* workload = nullptr;
  KeyClient* client = nullptr;  // blind track
  int64_t row = 0;
};

int read_keys_for_row(void* context, const KeyRequest* request, float* out, float* out2, char* error, size_t error_size) {
  const RowReads& reads = *static_cast<const RowReads*>(context);
  const Workload& w = *reads.workload;
  if (reads.client) return reads.client->read(reads.row, w.num_keys(reads.row), w.head_dim, *request, out, out2, error, error_size);
  std::vector<float> a, b;
  double charge = 0;
  if (Status s = compute_key_read(w, reads.row, *request, &a, &b, &charge); !s.ok()) {
    copy_to_error_buffer(s.message(), error, error_size);
    return 1;
  }
  std::copy(a.begin(), a.end(), out);
  if (!b.empty()) std::copy(b.begin(), b.end(), out2);
  return 0;
}

// The masker's writable scratch directory inside the jail (its private tmpfs).
constexpr const char* kScratch = "/work";
using VersionFn = int (*)();

struct Args {
  std::map<std::string, std::string> named;
  std::vector<std::string> rest;  // after "--"
  std::string get(const std::string& key, const std::string& fallback = "") const {
    auto it = named.find(key);
    return it == named.end() ? fallback : it->second;
  }
  long number(const std::string& key, long fallback) const {
    auto it = named.find(key);
    return it == named.end() ? fallback : std::strtol(it->second.c_str(), nullptr, 10);
  }
};

Args parse(int argc, char** argv) {
  Args args;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--") {
      for (++i; i < argc; ++i) args.rest.emplace_back(argv[i]);
      break;
    }
    if (a.rfind("--", 0) == 0 && i + 1 < argc) args.named[a.substr(2)] = argv[++i];
  }
  return args;
}

[[noreturn]] void fail(int message_fd, int code, const std::string& message) {
  const std::string line = message + "\n";
  if (message_fd >= 0) {
    ssize_t ignored = ::write(message_fd, line.data(), line.size());
    (void)ignored;
  } else {
    std::fputs(line.c_str(), stderr);
  }
  ::_exit(code);
}

struct RowOutput {
  std::vector<int32_t> indices;
  std::vector<double> weights;
  int64_t cap = 0;
};

void emit(void* context, const int32_t* indices, const double* weights, size_t count) {
  auto* out = static_cast<RowOutput*>(context);
  // Keep one more than the cap so the evaluator can report the overflow.
  const size_t keep = std::min<size_t>(count, static_cast<size_t>(out->cap + 1));
  out->indices.assign(indices, indices + keep);
  out->weights.assign(weights, weights + keep);
}

// Copies the masker from its descriptor into the jail's tmpfs (dlopen needs a path, and the
// worker has no host path at all).
void install_masker(int message_fd, const char* path) {
  struct stat st {};
  const int out = ::open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0500);
  if (::fstat(worker_fd::kMasker, &st) != 0 || out < 0)
    fail(message_fd, worker_exit::kUsage, std::string("worker: cannot copy the masker: ") + std::strerror(errno));
  off_t offset = 0;
  while (offset < st.st_size) {
    const ssize_t sent = ::sendfile(out, worker_fd::kMasker, &offset, static_cast<size_t>(st.st_size - offset));
    if (sent <= 0) fail(message_fd, worker_exit::kUsage, "worker: cannot copy the masker (is its tmpfs too small?)");
  }
  ::close(out);
  ::close(worker_fd::kMasker);
}

JailSpec worker_jail(const Args& args, int threads) {
  JailSpec spec;
  // System libraries only (the masker links libstdc++); the adrs tree, the run, the workload
  // files and every secret stay outside.
  for (const char* dir : {"/usr", "/lib", "/lib64", "/lib32", "/libx32", "/bin"}) spec.binds.push_back({dir, "", false, false, true});
  spec.binds.push_back({"/etc/ld.so.cache", "", false, false, true});
  for (const char* device : {"/dev/null", "/dev/zero", "/dev/urandom"}) spec.binds.push_back({device, "", false, true, true});
  spec.writable_dirs = {kScratch};
  spec.tmpfs_mb = args.number("tmpfs-mb", 64);
  spec.tmpfs_inodes = 4096;
  spec.hostname = "adrs-worker";
  spec.memory_mb = args.number("memory-mb", 4096) + spec.tmpfs_mb;
  spec.max_tasks = threads + 8;  // the worker's threads and the jail's keepers
  return spec;
}

// Trusted setup, from the jail to the "ready" line: returns the path dlopen loads the masker from.
// With a private root the masker gets a copy in its tmpfs; without one (the kernel refused the
// namespaces: the summary says so) it is loaded through its descriptor and has no scratch.
std::string confine_worker(const Args& args, int threads, const Workload& w, int message_fd) {
  JailReport jail;
  if (Status s = enter_jail(worker_jail(args, threads), &jail); !s.ok())
    fail(message_fd, worker_exit::kUsage, "worker: the jail could not be set up: " + s.message());
  std::string masker_path = std::string(kScratch) + "/masker.so";
  int masker_fd = -1;
  if (jail.private_root) {
    install_masker(message_fd, masker_path.c_str());
  } else {
    masker_fd = worker_fd::kMasker;
    masker_path = "/proc/self/fd/" + std::to_string(masker_fd);
  }
  apply_resource_limits(args.number("memory-mb", 4096), args.number("cpu-seconds", 0),
                        args.number("max-output-mb", 1024));
  install_crash_reporters(message_fd);
  set_crash_workload(&w);
  std::string sandbox;
  if (!enter_sandbox(message_fd, jail.private_root ? kScratch : "", masker_fd, &sandbox))
    fail(message_fd, worker_exit::kUsage, "worker: the sandbox could not be set up: " + sandbox);
  // The parent's only evidence that trusted setup is over: after this, whatever happens is the
  // candidate's doing.
  const std::string ready = std::string(kWorkerReady) + "\n" + jail.summary() + "; " + sandbox + "\n";
  if (::write(worker_fd::kReady, ready.data(), ready.size()) != static_cast<ssize_t>(ready.size()))
    fail(message_fd, worker_exit::kUsage, "worker: cannot report that it is ready");
  ::close(worker_fd::kReady);
  return masker_path;
}

// Loads the masker (its static initializers run here: candidate code) and finds its entry point.
EntryFn load_masker(const std::string& masker_path, int message_fd) {
  void* library = ::dlopen(masker_path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!library) {
    const std::string why = dlerror();
    const bool no_select = why.find("undefined symbol: _Z6selectRKN4adrs3RowERNS_9SelectionE") != std::string::npos;
    fail(message_fd, worker_exit::kBadMasker,
         no_select ? "the masker does not define void select(const adrs::Row& row, adrs::Selection& out) with "
                     "exactly this signature"
                   : "cannot load the masker: " + why);
  }
  auto version = reinterpret_cast<VersionFn>(::dlsym(library, "adrs_masker_api_version"));
  auto entry = reinterpret_cast<EntryFn>(::dlsym(library, "adrs_masker_select_v2"));
  if (!version || !entry)
    fail(message_fd, worker_exit::kBadMasker,
         "the masker lacks the adrs entry point: include \"masker_api.h\" and define "
         "void select(const adrs::Row&, adrs::Selection&)");
  if (version() != kMaskerApiVersion)
    fail(message_fd, worker_exit::kBadMasker,
         "the masker was built for API version " + std::to_string(version()) + "; this evaluator speaks " +
             std::to_string(kMaskerApiVersion));
  return entry;
}

// What every row's select() call shares.
struct SelectJob {
  const WorkerInput& input;
  EntryFn entry;
  uint64_t seed = 0;
  float target_density = 0;
  KeyClient* blind_client = nullptr;  // set on the blind track: keys are read through the evaluator
};

// The inputs the masker sees for row r (the key reader is added by the caller, which owns it).
Row make_row(const SelectJob& job, int64_t r) {
  const Workload& w = job.input.workload;
  const bool blind = job.blind_client != nullptr;
  const RowInfo info = w.row_info(r);
  const CallInfo& call = w.calls[info.call];
  Row row{};
  row.num_keys = call.num_keys;
  row.head_dim = w.head_dim;
  row.layer = call.layer;
  row.head = info.head;
  row.kv_head = info.kv_head;
  row.step = call.step;
  row.scale = w.scale;
  row.target_density = job.target_density;
  row.seed = combine_seed(job.seed, static_cast<uint64_t>(r));
  row.query = w.query(r);
  row.keys = blind ? nullptr : w.keys(r);
  row.scores = !blind && job.input.scores ? job.input.scores + job.input.score_offsets[r] : nullptr;
  row.values = w.values(r);
  return row;
}

// Calls the masker's select() on row r; returns its code (0 ok, 2 out of memory, else it threw).
int select_row(const SelectJob& job, int64_t r, RowOutput* out, char* error, size_t error_size) {
  Row row = make_row(job, r);
  RowReads reads{&job.input.workload, job.blind_client, r};
  const KeyReader reader{&reads, read_keys_for_row};
  row.reader = &reader;
  out->cap = max_entries_per_row(row.num_keys);
  set_current_row(r);
  const int rc = job.entry(&row, emit, out, error, error_size);
  set_current_row(-1);
  return rc;
}

// Runs select() on every row from `threads` threads; the first failure stops the others and ends
// the worker with its exit code.
std::vector<RowOutput> select_all_rows(const SelectJob& job, int threads, int message_fd) {
  const Workload& w = job.input.workload;
  const int64_t rows = w.num_rows();
  std::vector<RowOutput> outputs(rows);
  std::atomic<bool> failed{false};
  std::mutex failure_mutex;
  int failure_code = 0;
  std::string failure_message;
  std::atomic<int64_t> next{0};
  auto work = [&] {
    prepare_thread_for_crash_reports();
    for (int64_t r = next.fetch_add(1); r < rows && !failed.load(); r = next.fetch_add(1)) {
      char error[512] = "";
      const int rc = select_row(job, r, &outputs[r], error, sizeof error);
      if (rc == 0) continue;
      std::lock_guard<std::mutex> lock(failure_mutex);
      if (failed.exchange(true)) continue;
      failure_code = rc == 2 ? worker_exit::kOutOfMemory : worker_exit::kMaskerException;
      failure_message = std::string(rc == 2 ? "the masker ran out of memory" : "the masker threw") + " in " +
                        describe_row(w, r) + ": " + error;
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& thread : pool) thread.join();
  if (failed) fail(message_fd, failure_code, failure_message);
  return outputs;
}

void send_selections(const std::vector<RowOutput>& outputs, int message_fd) {
  Selections selections;
  for (const RowOutput& out : outputs)
    selections.append_row(out.indices.data(), out.weights.data(), static_cast<int64_t>(out.indices.size()));
  // From offset 0 of an empty file, whatever the masker wrote into the descriptor before.
  if (::ftruncate(worker_fd::kSelections, 0) != 0 || ::lseek(worker_fd::kSelections, 0, SEEK_SET) != 0)
    fail(message_fd, worker_exit::kOutputError, "worker: cannot reset its selections channel");
  if (Status s = write_selections(worker_fd::kSelections, selections); !s.ok())
    fail(message_fd, worker_exit::kOutputError, s.message());
}

int run_select(const Args& args) {
  const int message_fd = worker_fd::kMessage;
  if (!follow_parent(static_cast<int>(args.number("parent", -1))))
    fail(message_fd, worker_exit::kUsage, "worker: its parent is gone");
  WorkerInput input;
  if (Status s = map_worker_input(worker_fd::kInput, &input); !s.ok())
    fail(message_fd, worker_exit::kUsage, "worker: " + s.message());
  ::close(worker_fd::kInput);
  const Workload& w = input.workload;
  const int threads = static_cast<int>(std::min<int64_t>(resolve_threads(static_cast<int>(args.number("threads", 0))), w.num_rows()));
  const std::string masker_path = confine_worker(args, threads, w, message_fd);

  // Candidate code runs from here on (static initializers run inside dlopen).
  const EntryFn entry = load_masker(masker_path, message_fd);
  KeyClient client(worker_fd::kKeys);
  SelectJob job{input, entry};
  job.seed = static_cast<uint64_t>(std::strtoull(args.get("seed", "0").c_str(), nullptr, 10));
  job.target_density = std::strtof(args.get("target-density", "0.1").c_str(), nullptr);
  if (args.get("track", "oracle") == "blind") job.blind_client = &client;
  send_selections(select_all_rows(job, threads, message_fd), message_fd);
  ::_exit(worker_exit::kOk);  // skip the masker's static destructors
}

}  // namespace
}  // namespace adrs

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs("adrs-worker is started by adrs; see evaluator/worker_main.cc\n", stderr);
    return adrs::worker_exit::kUsage;
  }
  const std::string mode = argv[1];
  const adrs::Args args = adrs::parse(argc, argv);
  if (mode == "select") return adrs::run_select(args);
  if (mode == "compile") return adrs::run_compile_worker(argc, argv);
  std::fprintf(stderr, "adrs-worker: unknown mode '%s'\n", mode.c_str());
  return adrs::worker_exit::kUsage;
}

// Evaluator: scores masker candidates on one workload. The trusted side of the trust boundary.
//
//   source ──compile──▶ .so ──adrs-worker (sandboxed child)──▶ selections ──validate──▶ backend
//   ──▶ metrics
//
// Create one per (workload, options) and reuse it: the workload, its reference attention and the
// worker input file are made once. evaluate_source() may be called from several threads.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "evaluator/backend.h"
#include "evaluator/backend_registry.h"
#include "evaluator/compiler.h"
#include "evaluator/device_pool.h"
#include "evaluator/metrics.h"
#include "evaluator/selections.h"
#include "evaluator/workload.h"
#include "util/status.h"

namespace adrs {

enum class EvalStatus {
  kOk,
  kCompileError,      // the source does not compile (or the compiler timed out)
  kCrashed,           // the masker died on a signal (segfault, abort, ...)
  kTimeout,           // the worker ran past the wall-clock timeout
  kOutOfMemory,       // an allocation failed under the memory limit
  kException,         // select() threw
  kForbiddenSyscall,  // the masker tried to fork, exec, open a socket, ...
  kInvalidMask,       // an index out of range, a bad weight, too many entries
  kBadMasker,         // the shared object lacks the entry point or has another API version
  kCancelled,         // stopped by the user
  kInternalError,     // a fault of adrs itself (disk full, missing worker binary, ...)
};

// Stable names used in --json output and the run database: "ok", "compile_error", ...
const char* status_name(EvalStatus status);

struct EvalOptions {
  std::string workload = "smoke";
  double target_density = 0.10;
  uint64_t seed = 0;            // evaluation seed: each row's seed derives from it
  double timeout_s = 60.0;      // wall clock for one worker run
  double compile_timeout_s = 60.0;
  int threads = 0;              // worker and backend threads; 0: all hardware threads
  long memory_mb = 4096;        // worker address-space limit beyond the mapped workload
  Device device = Device::kAuto;
  // GPUs to score on (device cuda or auto): one backend each, each holding its own copy of the
  // workload and reference; the device pool sends each scoring to the least busy. Empty: GPU 0,
  // with the CPU as auto's fallback; named GPUs have no fallback.
  std::vector<int> gpus;
  bool expose_values = false;   // give maskers the values (hidden by default)
  bool hide_scores = false;     // withhold the oracle scores
  // "oracle": raw keys and exact scores visible. "blind": neither reaches the worker; key reads go
  // through the KeyServer (evaluator/key_reads.h), are charged, and the penalty applies to
  // max(density, access_density / access_ratio).
  std::string track = "oracle";
  double access_ratio = 2.0;
  std::string cache_dir;        // "" : default_cache_dir()
  // The synthetic presets' value secret (evaluator/synthetic.h); unset: the per-user secret.
  std::optional<uint64_t> value_secret;
  // A synthetic preset generated from this seed instead of the preset's public one: a held-out
  // twin drawn at run creation (the same model, fresh keys, queries and values). Traces ignore it.
  std::optional<uint64_t> workload_seed;
  // The behavioral fingerprint covers these rows (at most probe_rows of them, drawn from
  // probe_seed): EvalResult::fingerprint.
  uint64_t probe_seed = 0;
  int probe_rows = 64;
};

struct EvalResult {
  EvalStatus status = EvalStatus::kInternalError;
  std::string message;          // why it failed (empty when ok)
  Metrics metrics;              // valid when status is kOk
  std::string compile_log;
  std::string sandbox;          // what confined the worker ("user+network namespace, ...")
  bool compile_cached = false;
  std::string fingerprint;      // selections_fingerprint over the probe rows (when ok)
  std::string device;           // the backend that scored it: "cpu", "cuda:0", ... ("": not scored)
  double compile_s = 0.0, worker_s = 0.0, metrics_s = 0.0;
  bool ok() const { return status == EvalStatus::kOk; }
};

class Evaluator {
 public:
  // Builds the workload and the backend. Fails with a user-facing message on bad options.
  static Status Create(const EvalOptions& options, std::unique_ptr<Evaluator>* out);
  ~Evaluator();

  EvalResult evaluate_source(const std::string& source, const std::atomic<bool>* cancel = nullptr);
  EvalResult evaluate_shared_object(const std::string& so_path, const std::atomic<bool>* cancel = nullptr);
  // Scores selections directly (trusted code: tests, baselines computed in-process). On the blind
  // track `charges` holds the key reads charged to each row (KeyServer::charges()).
  EvalResult evaluate_selections(const Selections& selections, const std::vector<double>* charges = nullptr);

  const Workload& workload() const { return workload_; }
  const EvalOptions& options() const { return options_; }
  // The first device's backend (every device's holds the same reference).
  const Backend& backend() const { return *backends_.front(); }
  // The devices this evaluator scores on, in the order of options().gpus: "cpu" or "cuda:N".
  std::vector<std::string> device_labels() const;
  // GPUs scoring (0: the CPU backend).
  int gpu_count() const { return backend().name() == "cpu" ? 0 : static_cast<int>(backends_.size()); }
  // Makes this evaluator dispatch through `pool` (a run's evaluators share one), which must list
  // the same devices in the same order.
  Status share_device_pool(std::shared_ptr<DevicePool> pool);
  const std::shared_ptr<DevicePool>& device_pool() const { return pool_; }
  // Swaps in another backend for the same workload (tests: a backend that fails).
  void replace_backend(std::unique_ptr<Backend> backend);

 private:
  Evaluator() = default;
  EvalOptions options_;
  // The workload (a GPU-sized preset generated on the first GPU) and a backend per device
  // (evaluator/evaluator_devices.cc).
  Status load_workload_and_backends();
  // Scores on the pool's least busy device: one scoring at a time per backend (its buffers are
  // reused), any number at once on different devices.
  Status score_on_a_device(const Selections& canonical, RowErrors* errors, std::string* device);

  Workload workload_;
  std::vector<std::unique_ptr<Backend>> backends_;  // one per device, in pool order
  std::vector<std::unique_ptr<std::mutex>> backend_locks_;
  std::shared_ptr<DevicePool> pool_;
  std::string scratch_dir_;   // private temporary directory, removed with the evaluator
  int input_fd_ = -1;         // the worker input inside scratch_dir_, read-only
  int64_t input_bytes_ = 0;
  std::vector<int64_t> probe_rows_;
};

// The workload an Evaluator with these options scores: a GPU-sized synthetic preset generated on
// the first GPU when a GPU backend will score it (seconds instead of minutes), else on the host.
Status make_evaluation_workload(const EvalOptions& options, Workload* out);

nlohmann::json result_to_json(const EvalResult& result, const Evaluator& evaluator);

}  // namespace adrs

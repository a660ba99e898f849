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
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "evaluator/backend.h"
#include "evaluator/compiler.h"
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

enum class Device { kAuto, kCpu, kCuda };

struct EvalOptions {
  std::string workload = "smoke";
  double target_density = 0.10;
  uint64_t seed = 0;            // evaluation seed: each row's seed derives from it
  double timeout_s = 60.0;      // wall clock for one worker run
  double compile_timeout_s = 60.0;
  int threads = 0;              // worker and backend threads; 0: all hardware threads
  long memory_mb = 4096;        // worker address-space limit beyond the mapped workload
  Device device = Device::kAuto;
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
  const Backend& backend() const { return *backend_; }
  // Swaps in another backend for the same workload (tests: a backend that fails).
  void replace_backend(std::unique_ptr<Backend> backend) { backend_ = std::move(backend); }

 private:
  Evaluator() = default;
  EvalOptions options_;
  Workload workload_;
  std::unique_ptr<Backend> backend_;
  std::string scratch_dir_;   // private temporary directory, removed with the evaluator
  int input_fd_ = -1;         // the worker input inside scratch_dir_, read-only
  int64_t input_bytes_ = 0;
  std::vector<int64_t> probe_rows_;
};

nlohmann::json result_to_json(const EvalResult& result, const Evaluator& evaluator);

}  // namespace adrs

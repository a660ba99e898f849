// End-to-end cost of scoring maskers on a named preset through the Evaluator: generating the
// workload (on the device for the GPU-sized presets), the backend's upload and reference pass, the worker input file, then per
// candidate the sandboxed worker (the masker runs on the CPU) and the metrics.
#include <chrono>
#include <cstdio>

#include "bench/bench_kernels.h"
#include "evaluator/cuda_backend.h"
#include "evaluator/evaluator.h"
#include "util/file.h"

namespace adrs::bench {

void end_to_end(const std::string& preset, const std::vector<std::string>& masker_paths, nlohmann::json* out) {
  EvalOptions options;
  options.workload = preset;
  options.device = Device::kCuda;
  options.timeout_s = 600;
  options.memory_mb = 16384;
  const auto t = std::chrono::steady_clock::now();
  std::unique_ptr<Evaluator> evaluator;
  if (Status s = Evaluator::Create(options, &evaluator); !s.ok()) {
    std::printf("end-to-end on %s: %s\n", preset.c_str(), s.message().c_str());
    (*out)["e2e"] = {{"workload", preset}, {"error", s.message()}};
    return;
  }
  const double create_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
  const CudaTimings setup = cuda_backend_timings(evaluator->backend());
  std::printf("\nend-to-end on %s: Evaluator::Create %.1f s (generation, %s upload, reference pass %.1f ms on the GPU, worker input)\n",
              preset.c_str(), create_s, setup.storage.c_str(), setup.reference_gpu_s * 1e3);
  (*out)["e2e"] = {{"workload", preset}, {"create_s", create_s}, {"reference_gpu_s", setup.reference_gpu_s},
                   {"storage", setup.storage}};
  for (const std::string& masker_path : masker_paths) {
    std::string source;
    if (Status s = read_file(masker_path, &source); !s.ok()) {
      std::printf("  masker %s: %s\n", masker_path.c_str(), s.message().c_str());
      continue;
    }
    std::printf("  masker %s\n", masker_path.c_str());
    for (int rep = 0; rep < 2; ++rep) {
      const auto t0 = std::chrono::steady_clock::now();
      const EvalResult r = evaluator->evaluate_source(source);
      const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      const CudaTimings c = cuda_backend_timings(evaluator->backend());
      std::printf("  candidate %d: %s error %.6f density %.4f | compile %.2f s, worker %.2f s, metrics %.3f s (gpu %.2f ms), total %.2f s\n",
                  rep, status_name(r.status), r.metrics.error, r.metrics.density, r.compile_s, r.worker_s, r.metrics_s,
                  c.gpu_s * 1e3, total);
      if (!r.ok()) std::printf("  message: %s\n", r.message.c_str());
      (*out)["e2e"]["candidates"].push_back({{"masker", masker_path}, {"status", status_name(r.status)}, {"error", r.metrics.error},
                                             {"compile_s", r.compile_s}, {"worker_s", r.worker_s}, {"metrics_s", r.metrics_s},
                                             {"gpu_s", c.gpu_s}, {"total_s", total}});
    }
  }
}

}  // namespace adrs::bench

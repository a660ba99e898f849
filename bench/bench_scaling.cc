// Scoring throughput of the trusted side over 1..N GPUs of one host: one Evaluator with a backend
// per GPU (EvalOptions::gpus), `threads` callers scoring the same canonical selections (sink +
// recent window, 10% of each row) through Evaluator::evaluate_selections, which dispatches each
// call to the least busy GPU. What it leaves out is the masker worker (CPU, per candidate): the
// end-to-end runs in docs/PERFORMANCE.md measure that side.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

#include "bench/bench_kernels.h"
#include "kernels/cuda_backend.h"
#include "evaluator/evaluator.h"

namespace adrs::bench {

namespace {

Selections sink_and_window(const Workload& w) {
  Selections sel;
  std::vector<int32_t> idx;
  std::vector<double> weights;
  for (int64_t r = 0; r < w.num_rows(); ++r) {
    const int32_t n = w.num_keys(r), window = std::max(1, n / 10), sinks = std::min(4, n);
    idx.clear();
    for (int32_t i = 0; i < sinks; ++i) idx.push_back(i);
    for (int32_t i = std::max(sinks, n - window); i < n; ++i) idx.push_back(i);
    weights.assign(idx.size(), 1.0);
    sel.append_row(idx.data(), weights.data(), static_cast<int64_t>(idx.size()));
  }
  return sel;
}

}  // namespace

void scoring_scaling(const std::string& preset, int max_gpus, int calls_per_gpu, nlohmann::json* out) {
  const int visible = cuda_device_count();
  for (int gpus = 1; gpus <= std::min(max_gpus, visible); gpus *= 2) {
    EvalOptions options;
    options.workload = preset;
    options.device = Device::kCuda;
    for (int g = 0; g < gpus; ++g) options.gpus.push_back(g);
    const auto t0 = std::chrono::steady_clock::now();
    std::unique_ptr<Evaluator> evaluator;
    if (Status s = Evaluator::Create(options, &evaluator); !s.ok()) {
      std::printf("scoring on %d GPUs: %s\n", gpus, s.message().c_str());
      return;
    }
    const double create_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const Selections sel = sink_and_window(evaluator->workload());
    evaluator->evaluate_selections(sel);  // warm-up of every buffer
    const int threads = 4 * gpus, total = calls_per_gpu * gpus;
    std::atomic<int> next{0}, failed{0};
    const auto t1 = std::chrono::steady_clock::now();
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
      pool.emplace_back([&] {
        while (next.fetch_add(1) < total)
          if (!evaluator->evaluate_selections(sel).ok()) ++failed;
      });
    for (std::thread& t : pool) t.join();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
    std::string counts;
    const auto labels = evaluator->device_labels();
    const auto scored = evaluator->device_pool()->scored();
    for (size_t i = 0; i < labels.size(); ++i) counts += (i ? ", " : "") + labels[i] + " " + std::to_string(scored[i]);
    std::printf("scoring %s on %d GPU(s), %d threads: %d calls in %.2f s = %.1f per s (%d failed; setup %.1f s; per device: %s)\n",
                preset.c_str(), gpus, threads, total, seconds, total / seconds, failed.load(), create_s, counts.c_str());
    (*out)["scaling"].push_back({{"gpus", gpus}, {"threads", threads}, {"calls", total}, {"seconds", seconds},
                                 {"per_s", total / seconds}, {"failed", failed.load()}, {"create_s", create_s}, {"per_device", counts}});
    std::fflush(stdout);
  }
}

}  // namespace adrs::bench

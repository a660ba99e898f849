// The evaluator's devices: its workload, one backend per device, and the dispatch of each scoring
// through the device pool (evaluator/device_pool.h). Backends come from the registry
// (evaluator/backend_registry.h), so nothing here names the CUDA library.
#include <spdlog/spdlog.h>

#include "evaluator/evaluator.h"
#include "evaluator/synthetic.h"

namespace adrs {

Status make_evaluation_workload(const EvalOptions& options, Workload* out) {
  const SyntheticPreset* preset = find_synthetic_preset(options.workload);
  const uint64_t* secret = options.value_secret ? &*options.value_secret : nullptr;
  const bool on_gpu = scores_on_gpu(options.device);
  if (preset && preset->gpu_sized && !on_gpu)
    spdlog::warn("workload '{}' is GPU-sized: generating and scoring it on the CPU takes many minutes and about 10 GB of "
                 "memory; with a CUDA device, --device auto or cuda does it in seconds",
                 preset->name);
  if (!preset) return make_workload(options.workload, secret, out);
  SyntheticPreset p;
  if (Status s = with_value_secret(*preset, secret, &p); !s.ok()) return s;
  if (options.workload_seed) p.seed = *options.workload_seed;
  const DeviceBackendFactory* gpu = on_gpu ? find_device_backend("cuda") : nullptr;
  if (p.gpu_sized && gpu && gpu->make_synthetic) return gpu->make_synthetic(p, options.gpus.empty() ? 0 : options.gpus[0], out);
  return make_synthetic_workload(p, out);
}

Status Evaluator::load_workload_and_backends() {
  if (Status s = make_evaluation_workload(options_, &workload_); !s.ok()) return s;
  const std::vector<int> gpus = options_.gpus.empty() ? std::vector<int>{0} : options_.gpus;
  for (int gpu : gpus) {
    BackendChoice choice;
    choice.device = options_.device;
    choice.gpu = gpu;
    choice.gpu_required = !options_.gpus.empty();
    choice.threads = options_.threads;
    std::unique_ptr<Backend> backend;
    if (Status s = make_backend(choice, workload_, &backend); !s.ok())
      return gpus.size() > 1 ? Status::Error("GPU " + std::to_string(gpu) + ": " + s.message()) : s;
    const bool cpu = backend->name() == "cpu";
    backends_.push_back(std::move(backend));
    backend_locks_.push_back(std::make_unique<std::mutex>());
    if (cpu) break;  // auto fell back to the CPU: one backend, whatever the GPU list
  }
  pool_ = std::make_shared<DevicePool>(device_labels());
  return Status::Ok();
}

std::vector<std::string> Evaluator::device_labels() const {
  std::vector<std::string> labels;
  for (const auto& b : backends_) labels.push_back(b->label());
  return labels;
}

Status Evaluator::share_device_pool(std::shared_ptr<DevicePool> pool) {
  if (!pool || pool->labels() != device_labels())
    return Status::Error("internal: an evaluator on " + workload_.name + " does not score on the run's devices");
  pool_ = std::move(pool);
  return Status::Ok();
}

void Evaluator::replace_backend(std::unique_ptr<Backend> backend) {
  backends_.clear();
  backend_locks_.clear();
  backends_.push_back(std::move(backend));
  backend_locks_.push_back(std::make_unique<std::mutex>());
  pool_ = std::make_shared<DevicePool>(device_labels());
}

Status Evaluator::score_on_a_device(const Selections& canonical, RowErrors* errors, std::string* device) {
  const size_t index = pool_->acquire();
  Backend& backend = *backends_[index];
  *device = backend.label();
  Status scored;
  {
    std::lock_guard lock(*backend_locks_[index]);
    scored = backend.sparse_errors(canonical, errors);
  }
  pool_->release(index);
  return scored;
}

}  // namespace adrs

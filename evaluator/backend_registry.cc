#include "evaluator/backend_registry.h"

#include <mutex>
#include <vector>

#include <spdlog/spdlog.h>

namespace adrs {

namespace {

// Function-local statics: registrars of other libraries run during static initialization, in an
// order nobody controls.
std::mutex& registry_mutex() {
  static std::mutex mutex;
  return mutex;
}

std::vector<DeviceBackendFactory>& registry() {
  static std::vector<DeviceBackendFactory> factories;
  return factories;
}

const DeviceBackendFactory* usable_cuda() {
  const DeviceBackendFactory* cuda = find_device_backend("cuda");
  return cuda && cuda->status().ok() ? cuda : nullptr;
}

Status make_device_backend(const BackendChoice& choice, const Workload& workload, std::unique_ptr<Backend>* out) {
  const DeviceBackendFactory* cuda = find_device_backend("cuda");
  if (!cuda) return Status::Error("this adrs was built without CUDA (nvcc was not found when it was built)");
  if (Status s = cuda->status(); !s.ok()) return s;
  const int count = cuda->device_count();
  if (choice.gpu < 0 || choice.gpu >= count)
    return Status::Error("no CUDA device " + std::to_string(choice.gpu) + " (this machine shows " + std::to_string(count) +
                         "); see evaluation.devices");
  return cuda->make(workload, choice.gpu, out);
}

}  // namespace

const char* device_name(Device device) {
  return device == Device::kCpu ? "cpu" : device == Device::kCuda ? "cuda" : "auto";
}

bool parse_device(const std::string& text, Device* out) {
  for (Device d : {Device::kCpu, Device::kCuda, Device::kAuto})
    if (text == device_name(d)) {
      *out = d;
      return true;
    }
  return false;
}

bool register_device_backend(DeviceBackendFactory factory) {
  std::lock_guard lock(registry_mutex());
  for (DeviceBackendFactory& f : registry())
    if (f.name == factory.name) {
      f = std::move(factory);
      return true;
    }
  registry().push_back(std::move(factory));
  return true;
}

const DeviceBackendFactory* find_device_backend(const std::string& name) {
  std::lock_guard lock(registry_mutex());
  for (const DeviceBackendFactory& f : registry())
    if (f.name == name) return &f;
  return nullptr;
}

int usable_gpus() {
  const DeviceBackendFactory* cuda = usable_cuda();
  return cuda ? cuda->device_count() : 0;
}

bool scores_on_gpu(Device device) { return device != Device::kCpu && usable_cuda() != nullptr; }

Status make_backend(const BackendChoice& choice, const Workload& workload, std::unique_ptr<Backend>* out) {
  if (choice.device != Device::kCpu) {
    Status s = make_device_backend(choice, workload, out);
    if (s.ok()) return s;
    if (choice.device == Device::kCuda || choice.gpu_required)
      return Status::Error("--device cuda: " + s.message() + "; use --device cpu or auto");
    if (usable_cuda()) spdlog::warn("CUDA backend unavailable ({}); using the CPU backend", s.message());
  }
  *out = make_cpu_backend(workload, choice.threads);
  return Status::Ok();
}

}  // namespace adrs

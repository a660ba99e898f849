// Plugs the CUDA backend into the evaluator: a static registrar adds the "cuda" factory to the
// backend registry (evaluator/backend_registry.h) when this library is linked in. CMake links
// adrs_cuda whole (kernels/CMakeLists.txt), so the registrar is kept although nothing calls it.
#include "evaluator/backend_registry.h"
#include "kernels/cuda_backend.h"

namespace adrs {
namespace {

Status make_on_device(const Workload& workload, int device, std::unique_ptr<Backend>* out) {
  CudaBackendOptions options;
  options.device = device;
  return make_cuda_backend(workload, options, out);
}

Status generate_on_device(const SyntheticPreset& preset, int device, Workload* out) {
  if (Status s = select_cuda_device(device); !s.ok()) return s;
  return make_synthetic_workload_on_device(preset, out);
}

[[maybe_unused]] const bool registered = register_device_backend({"cuda", cuda_device_status, cuda_device_count, make_on_device, generate_on_device});

}  // namespace
}  // namespace adrs

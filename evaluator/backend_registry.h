// Backends register themselves. The CPU backend is built in; a device backend (the CUDA one in
// kernels/) registers its factory from a static initializer of its own library when that library
// is linked in (CMake links it whole, so the registrar is kept). The evaluator asks the registry
// and names no function of kernels/: the dependency points one way, kernels -> evaluator.
//
// make_backend picks by --device:
//   cpu   the CPU backend (the reference implementation);
//   cuda  a backend of the registered "cuda" factory on GPU `gpu`, or a one-line reason naming the
//         fix (not built with CUDA, no device, a device error);
//   auto  the GPU when one is usable, else the CPU backend (with a warning when a GPU exists but
//         the backend failed on it); `gpu_required` (GPUs named by evaluation.devices) turns that
//         fallback into an error, so a run never silently scores on the CPU.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "evaluator/backend.h"
#include "evaluator/workload.h"
#include "util/status.h"

namespace adrs {

struct SyntheticPreset;

enum class Device { kAuto, kCpu, kCuda };

// "cpu", "cuda" or "auto".
const char* device_name(Device device);
// False for any other text.
bool parse_device(const std::string& text, Device* out);

struct DeviceBackendFactory {
  std::string name;                     // the --device value that picks it: "cuda"
  std::function<Status()> status;       // ok when a device can be used; else why not (one line)
  std::function<int()> device_count;    // devices this process sees
  // A backend holding its own copy of `workload` (which must outlive it) on device `device`.
  std::function<Status(const Workload& workload, int device, std::unique_ptr<Backend>* out)> make;
  // Generates a synthetic preset on `device` and copies it into host memory (GPU-sized presets:
  // seconds instead of minutes on the host). Empty when the backend cannot.
  std::function<Status(const SyntheticPreset& preset, int device, Workload* out)> make_synthetic;
};

// Called by a backend library's static registrar; the return value is for it to hold.
bool register_device_backend(DeviceBackendFactory factory);
// The factory registered under `name`; nullptr when none is linked into this binary.
const DeviceBackendFactory* find_device_backend(const std::string& name);

// GPUs the CUDA backend can use here: 0 when it is not built in or no device is usable.
int usable_gpus();
// Whether --device `device` would score on a GPU here (cuda, or auto with a usable GPU).
bool scores_on_gpu(Device device);

struct BackendChoice {
  Device device = Device::kAuto;
  int gpu = 0;                // the GPU index (cuda, or auto when a GPU is usable)
  bool gpu_required = false;  // no CPU fallback under auto (GPUs named explicitly)
  int threads = 0;            // CPU backend threads; 0: every hardware thread
};

Status make_backend(const BackendChoice& choice, const Workload& workload, std::unique_ptr<Backend>* out);

}  // namespace adrs

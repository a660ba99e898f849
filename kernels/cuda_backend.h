// The CUDA backend: the same contract as the CPU backend (backend.h), computed on a GPU.
// The workload is uploaded once; the reference pass (true outputs, oracle scores, row statistics)
// runs once; per candidate only the selections go up and the per-row errors come down.
// The library registers itself with the evaluator's backend registry (cuda_registration.cc), so
// the evaluator never calls these directly; benchmarks and tests may.
#pragma once

#include <memory>
#include <string>

#include "evaluator/backend.h"
#include "util/status.h"

namespace adrs {

struct SyntheticPreset;

struct CudaBackendOptions {
  // How K and V are stored on the device. kAuto: bf16 when every value is exactly a bf16 (no
  // rounding, so metrics are unchanged), otherwise fp32. kBF16 / kF16 round (tests, benchmarks).
  enum class Storage { kAuto, kF32, kBF16, kF16 };
  Storage storage = Storage::kAuto;
  // fp64 accumulation keeps the metrics within 1e-5 of the CPU backend's double arithmetic;
  // fp32 is the faster kernel variant the benchmark also measures.
  bool fp64_accumulation = true;
  // The CUDA device (index as the runtime numbers them) that holds this backend's copy of the
  // workload and runs its kernels; every call selects it first, from whichever thread calls.
  int device = 0;
};

// What the last sparse_errors() call cost (for benchmarks).
struct CudaTimings {
  double pack_s = 0.0;   // host: selections into pinned buffers
  double gpu_s = 0.0;    // device events: selections up, sparse kernels, reductions, errors down
  double reference_gpu_s = 0.0;  // the one-time reference pass
  std::string storage;   // "bf16", "fp16" or "fp32"
};

// Ok when a CUDA device can be used; otherwise a one-line reason (no device, driver error).
Status cuda_device_status();

// How many CUDA devices this process sees (0 when none or no driver).
int cuda_device_count();

// Makes `device` current for the calling thread (a device generator or a backend runs on it).
Status select_cuda_device(int device);

// Uploads `workload` and runs the reference pass. `workload` must outlive the backend.
Status make_cuda_backend(const Workload& workload, const CudaBackendOptions& options,
                         std::unique_ptr<Backend>* out);

// Timings of a backend made by make_cuda_backend (zeros for any other backend).
CudaTimings cuda_backend_timings(const Backend& backend);

// Builds a synthetic preset on the GPU (the same numbers as make_synthetic_workload on the host,
// see evaluator/synthetic_model.h) and copies it into host memory.
Status make_synthetic_workload_on_device(const SyntheticPreset& preset, Workload* out);

}  // namespace adrs

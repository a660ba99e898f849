// Small helpers shared by the benchmark programs: CUDA checks that exit, event timing, medians.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <vector>

namespace adrs::bench {

// Benchmarks are not library code: a CUDA failure ends the program with the reason.
inline void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    std::fprintf(stderr, "adrs-bench: CUDA error in %s: %s\n", what, cudaGetErrorString(e));
    std::exit(1);
  }
}

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

// Median seconds of `reps` runs of `fn` (enqueued on the default stream), after `warmup` runs.
inline double time_gpu(const std::function<void()>& fn, int reps = 10, int warmup = 2) {
  cudaEvent_t start, stop;
  check(cudaEventCreate(&start), "event");
  check(cudaEventCreate(&stop), "event");
  for (int i = 0; i < warmup; ++i) fn();
  check(cudaDeviceSynchronize(), "warmup");
  std::vector<double> times;
  for (int i = 0; i < reps; ++i) {
    cudaEventRecord(start);
    fn();
    cudaEventRecord(stop);
    check(cudaEventSynchronize(stop), "timed run");
    float ms = 0.0f;
    cudaEventElapsedTime(&ms, start, stop);
    times.push_back(ms * 1e-3);
  }
  check(cudaGetLastError(), "kernel launch");
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return median(times);
}

template <typename T>
struct DeviceBuffer {
  T* ptr = nullptr;
  explicit DeviceBuffer(size_t count) { check(cudaMalloc(&ptr, std::max<size_t>(count, 1) * sizeof(T)), "cudaMalloc"); }
  ~DeviceBuffer() { cudaFree(ptr); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
};

template <typename T>
void upload(DeviceBuffer<T>& d, const std::vector<T>& h) {
  check(cudaMemcpy(d.ptr, h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice), "upload");
}

}  // namespace adrs::bench

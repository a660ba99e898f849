// Owning device and pinned host arrays with Status errors (no exceptions across the backend).
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "util/status.h"

namespace adrs {

inline Status cuda_check(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return Status::Ok();
  return Status::Error(std::string("CUDA error during ") + what + ": " + cudaGetErrorString(e));
}

template <typename T>
class DeviceArray {
 public:
  DeviceArray() = default;
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  ~DeviceArray() { release(); }

  // Exactly `count` elements (contents undefined).
  Status allocate(int64_t count) {
    release();
    if (count <= 0) count = 1;
    if (cudaMalloc(&data_, count * sizeof(T)) != cudaSuccess) {
      cudaGetLastError();
      data_ = nullptr;
      return Status::Error("out of GPU memory allocating " + std::to_string((count * sizeof(T)) >> 20) + " MiB");
    }
    count_ = count;
    return Status::Ok();
  }
  // At least `count` elements; keeps the allocation when it is large enough (contents lost on growth).
  Status reserve(int64_t count) { return count <= count_ ? Status::Ok() : allocate(count + count / 4); }
  Status upload(const T* host, int64_t count) {
    if (Status s = allocate(count); !s.ok()) return s;
    return cuda_check(cudaMemcpy(data_, host, count * sizeof(T), cudaMemcpyHostToDevice), "upload");
  }
  Status download(T* host, int64_t count) const {
    return cuda_check(cudaMemcpy(host, data_, count * sizeof(T), cudaMemcpyDeviceToHost), "download");
  }
  T* data() const { return data_; }
  int64_t size() const { return count_; }
  size_t bytes() const { return count_ * sizeof(T); }

 private:
  void release() {
    if (data_) cudaFree(data_);
    data_ = nullptr;
    count_ = 0;
  }
  T* data_ = nullptr;
  int64_t count_ = 0;
};

template <typename T>
class PinnedArray {
 public:
  PinnedArray() = default;
  PinnedArray(const PinnedArray&) = delete;
  PinnedArray& operator=(const PinnedArray&) = delete;
  ~PinnedArray() { release(); }

  Status allocate(int64_t count) {
    release();
    if (count <= 0) count = 1;
    if (cudaMallocHost(&data_, count * sizeof(T)) != cudaSuccess) {
      cudaGetLastError();
      data_ = nullptr;
      return Status::Error("cannot pin " + std::to_string((count * sizeof(T)) >> 20) + " MiB of host memory");
    }
    count_ = count;
    return Status::Ok();
  }
  Status reserve(int64_t count) { return count <= count_ ? Status::Ok() : allocate(count + count / 4); }
  T* data() const { return data_; }
  T& operator[](int64_t i) { return data_[i]; }
  const T& operator[](int64_t i) const { return data_[i]; }

 private:
  void release() {
    if (data_) cudaFreeHost(data_);
    data_ = nullptr;
    count_ = 0;
  }
  T* data_ = nullptr;
  int64_t count_ = 0;
};

}  // namespace adrs

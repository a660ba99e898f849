// Turns the run-time element and accumulator types into template arguments.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <type_traits>

#include "kernels/attention.h"

namespace adrs::cuda {

// Calls fn(KV{}, Acc{}) with KV in {float, __nv_bfloat16, __half} and Acc in {float, double}.
template <typename Fn>
void dispatch_kv_acc(KvType kv, AccType acc, Fn&& fn) {
  auto with_acc = [&](auto kv_tag) {
    if (acc == AccType::kF64) fn(kv_tag, double{});
    else fn(kv_tag, float{});
  };
  switch (kv) {
    case KvType::kF32: with_acc(float{}); break;
    case KvType::kBF16: with_acc(__nv_bfloat16{}); break;
    case KvType::kF16: with_acc(__half{}); break;
  }
}

// Calls fn(std::integral_constant<int, D>{}) for the head dimension D == head_dim, one of
// kHeadDims; does nothing for any other value (callers check supported_head_dim first).
template <typename Fn>
void dispatch_head_dim(int head_dim, Fn&& fn) {
  switch (head_dim) {
    case 64: fn(std::integral_constant<int, 64>{}); break;
    case 80: fn(std::integral_constant<int, 80>{}); break;
    case 96: fn(std::integral_constant<int, 96>{}); break;
    case 128: fn(std::integral_constant<int, 128>{}); break;
    case 256: fn(std::integral_constant<int, 256>{}); break;
    default: break;
  }
}

}  // namespace adrs::cuda

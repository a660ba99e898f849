// Turns the run-time element and accumulator types into template arguments.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

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

}  // namespace adrs::cuda

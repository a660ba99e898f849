// EvalSlots: the evaluation slots of the asynchronous schedule. At most `count` candidates compile
// and evaluate at once; the others wait (their proposals already done), so proposals and
// evaluations each keep their own slots busy. acquire() gives up (false) once `cancel` is set.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

namespace adrs {

class EvalSlots {
 public:
  explicit EvalSlots(int count) : free_(count) {}
  bool acquire(const std::atomic<bool>& cancel) {
    std::unique_lock lock(mutex_);
    while (free_ == 0) {
      if (cancel.load()) return false;
      cv_.wait_for(lock, std::chrono::milliseconds(50));
    }
    --free_;
    return true;
  }
  void release() {
    {
      std::lock_guard lock(mutex_);
      ++free_;
    }
    cv_.notify_one();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  int free_;
};

// Holds one slot for a scope (nothing when `slots` is null: the deterministic schedule).
class EvalSlotHold {
 public:
  explicit EvalSlotHold(EvalSlots* slots) : slots_(slots) {}
  // False when cancelled while waiting.
  bool acquire(const std::atomic<bool>& cancel) {
    held_ = !slots_ || slots_->acquire(cancel);
    return held_;
  }
  ~EvalSlotHold() {
    if (slots_ && held_) slots_->release();
  }
  EvalSlotHold(const EvalSlotHold&) = delete;
  EvalSlotHold& operator=(const EvalSlotHold&) = delete;

 private:
  EvalSlots* slots_;
  bool held_ = false;
};

}  // namespace adrs

#include "evaluator/device_pool.h"

namespace adrs {

DevicePool::DevicePool(std::vector<std::string> labels)
    : labels_(std::move(labels)), busy_(labels_.size(), 0), scored_(labels_.size(), 0) {}

size_t DevicePool::acquire() {
  std::lock_guard lock(mutex_);
  size_t best = 0;
  for (size_t i = 1; i < busy_.size(); ++i)
    if (busy_[i] < busy_[best]) best = i;
  ++busy_[best];
  return best;
}

void DevicePool::release(size_t index) {
  std::lock_guard lock(mutex_);
  --busy_[index];
  ++scored_[index];
}

std::vector<int64_t> DevicePool::scored() const {
  std::lock_guard lock(mutex_);
  return scored_;
}

}  // namespace adrs

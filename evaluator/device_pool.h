// DevicePool: the devices a run scores on ("cpu", or "cuda:0", "cuda:2", ...), shared by every
// evaluator of the run. Each evaluator (one per setting, seed and the cascade's stage 1) holds one
// backend per device, each with its own copy of its workload and reference; the pool decides
// which device scores next: the one with the fewest scorings waiting or running, over the whole
// run (ties: the lower index), so a GPU busy with one setting is not handed another at once.
// Thread-safe.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace adrs {

class DevicePool {
 public:
  explicit DevicePool(std::vector<std::string> labels);

  // The least busy device's index; the caller releases it when its scoring is done.
  size_t acquire();
  void release(size_t index);

  const std::vector<std::string>& labels() const { return labels_; }
  size_t size() const { return labels_.size(); }
  // Scorings each device finished (release calls), in label order.
  std::vector<int64_t> scored() const;

 private:
  const std::vector<std::string> labels_;
  mutable std::mutex mutex_;
  std::vector<int> busy_;
  std::vector<int64_t> scored_;
};

}  // namespace adrs

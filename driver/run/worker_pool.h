// WorkerPool: the loop's worker threads. Each takes a candidate id from a queue, runs its step
// (driver/run/candidate_step.h) and reports the finished row, a fault, or an abandoned step. They
// end when the pool is destroyed; every step they run is bounded (timeouts) or cancellable.
// The asynchronous schedule also asks which submitted candidates still wait for their proposal
// (proposer slots in use) and is woken when one proposal ends.
#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "driver/run/candidate_step.h"

namespace adrs {

class WorkerPool {
 public:
  WorkerPool(const StepContext& context, int threads);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // `needs_proposal`: the row is "selected" (it occupies a proposer slot until its proposal ends).
  void submit(int64_t id, bool needs_proposal);
  // Waits up to `timeout` for news and moves finished rows into `done`. `on_proposal`: an ended
  // proposal is news too.
  void collect(std::map<int64_t, CandidateRow>* done, std::chrono::milliseconds timeout, bool on_proposal);
  int in_flight() const;
  int proposing() const;
  std::optional<Status> fault() const;

 private:
  void work();
  void proposal_done(int64_t id);

  StepContext context_;
  mutable std::mutex mutex_;
  std::condition_variable wake_, done_cv_;
  std::deque<int64_t> queue_;
  std::set<int64_t> proposing_;
  std::map<int64_t, CandidateRow> finished_;
  std::vector<Status> faults_;
  int abandoned_ = 0, proposals_ended_ = 0, in_flight_ = 0;
  bool closed_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace adrs

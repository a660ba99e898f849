#include "driver/run/worker_pool.h"

namespace adrs {

WorkerPool::WorkerPool(const StepContext& context, int threads) : context_(context) {
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { work(); });
}

WorkerPool::~WorkerPool() {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  wake_.notify_all();
  for (std::thread& t : threads_) t.join();
}

void WorkerPool::submit(int64_t id, bool needs_proposal) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(id);
    ++in_flight_;
    if (needs_proposal) proposing_.insert(id);
  }
  wake_.notify_all();
}

void WorkerPool::collect(std::map<int64_t, CandidateRow>* done, std::chrono::milliseconds timeout, bool on_proposal) {
  std::unique_lock lock(mutex_);
  done_cv_.wait_for(lock, timeout, [&] {
    return !finished_.empty() || !faults_.empty() || abandoned_ > 0 || (on_proposal && proposals_ended_ > 0);
  });
  for (auto& [id, row] : finished_) (*done)[id] = std::move(row);
  finished_.clear();
  abandoned_ = 0;
  proposals_ended_ = 0;
}

int WorkerPool::in_flight() const {
  std::lock_guard lock(mutex_);
  return in_flight_;
}

int WorkerPool::proposing() const {
  std::lock_guard lock(mutex_);
  return static_cast<int>(proposing_.size());
}

std::optional<Status> WorkerPool::fault() const {
  std::lock_guard lock(mutex_);
  if (faults_.empty()) return std::nullopt;
  return faults_.front();
}

void WorkerPool::work() {
  for (;;) {
    int64_t id;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return closed_ || !queue_.empty(); });
      if (queue_.empty()) return;
      id = queue_.front();
      queue_.pop_front();
    }
    CandidateRow row;
    Status fault;
    StepContext context = context_;
    context.proposal_done = [this, id] { proposal_done(id); };
    const StepOutcome outcome = context.cancel->load() ? StepOutcome::kAbandoned : process_candidate(context, id, &row, &fault);
    {
      std::lock_guard lock(mutex_);
      --in_flight_;
      proposing_.erase(id);
      if (outcome == StepOutcome::kDone) finished_[id] = std::move(row);
      else if (outcome == StepOutcome::kFault) faults_.push_back(fault);
      else ++abandoned_;
    }
    done_cv_.notify_all();
  }
}

void WorkerPool::proposal_done(int64_t id) {
  {
    std::lock_guard lock(mutex_);
    if (proposing_.erase(id)) ++proposals_ended_;
  }
  done_cv_.notify_all();
}

}  // namespace adrs

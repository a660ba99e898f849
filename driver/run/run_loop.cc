#include "driver/run/run_loop.h"

#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "driver/propose/building_blocks.h"
#include "driver/run/population.h"
#include "driver/run/suite.h"
#include "util/hash.h"

namespace adrs {

namespace {

using Clock = std::chrono::steady_clock;

// Worker threads take candidate ids from a queue and report finished rows. They end when the
// queue is closed; every step they run is bounded (timeouts) or cancellable.
class WorkerPool {
 public:
  WorkerPool(const StepContext& context, int threads) : context_(context) {
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { work(); });
  }
  ~WorkerPool() {
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
    }
    wake_.notify_all();
    for (std::thread& t : threads_) t.join();
  }
  void submit(int64_t id) {
    {
      std::lock_guard lock(mutex_);
      queue_.push_back(id);
      ++in_flight_;
    }
    wake_.notify_all();
  }
  // Waits up to `timeout` for news; moves finished rows into `done`.
  void collect(std::map<int64_t, CandidateRow>* done, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    done_cv_.wait_for(lock, timeout, [&] { return !finished_.empty() || !faults_.empty() || abandoned_ > 0; });
    for (auto& [id, row] : finished_) (*done)[id] = std::move(row);
    finished_.clear();
    abandoned_ = 0;
  }
  int in_flight() const {
    std::lock_guard lock(mutex_);
    return in_flight_;
  }
  std::optional<Status> fault() const {
    std::lock_guard lock(mutex_);
    if (faults_.empty()) return std::nullopt;
    return faults_.front();
  }

 private:
  void work() {
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
      const StepOutcome outcome = context_.cancel->load() ? StepOutcome::kAbandoned : process_candidate(context_, id, &row, &fault);
      {
        std::lock_guard lock(mutex_);
        --in_flight_;
        if (outcome == StepOutcome::kDone) finished_[id] = std::move(row);
        else if (outcome == StepOutcome::kFault) faults_.push_back(fault);
        else ++abandoned_;
      }
      done_cv_.notify_all();
    }
  }

  StepContext context_;
  mutable std::mutex mutex_;
  std::condition_variable wake_, done_cv_;
  std::deque<int64_t> queue_;
  std::map<int64_t, CandidateRow> finished_;
  std::vector<Status> faults_;
  int abandoned_ = 0;
  int in_flight_ = 0;
  bool closed_ = false;
  std::vector<std::thread> threads_;
};

nlohmann::json request_record(const Choice& c) {
  nlohmann::json j;
  j["inspirations"] = c.inspiration_ids;
  j["attempts"] = nlohmann::json::array();
  for (const AttemptView& a : c.recent_attempts)
    j["attempts"].push_back({{"id", a.id}, {"kind", mutation_kind_name(a.kind)}, {"outcome", a.outcome}, {"score", a.score}});
  if (c.fix_up_of) j["fix_up_of"] = *c.fix_up_of;
  if (c.use_tuner) j["use_tuner"] = true;
  return j;
}

std::string describe_row(const CandidateRow& r) {
  std::string head = "#" + std::to_string(r.id);
  if (r.parent_id) head += " (parent " + std::to_string(*r.parent_id) + ", " + r.mutation + ", island " + std::to_string(r.island) + ")";
  if (r.status == CandidateStatus::kEvaluated) {
    return head + fmt::format(": score {:.6f} error {:.6f} density {:.4f}", *r.score, *r.error, *r.density) + (r.message.empty() ? "" : "  [" + r.message.substr(0, 120) + "]");
  }
  std::string why = r.message.substr(0, r.message.find('\n'));
  return head + ": " + candidate_status_name(r.status) + (r.failure.empty() ? "" : " " + r.failure) + (why.empty() ? "" : ": " + why.substr(0, 160));
}

}  // namespace

Status insert_seed_candidate(RunDb& db, const std::string& source) {
  CandidateRow seed;
  seed.id = 1;
  seed.island = 0;
  seed.generation = 0;
  seed.mutation = mutation_kind_name(MutationKind::kSeed);
  seed.status = CandidateStatus::kProposed;
  seed.source = source;
  seed.source_hash = hex64(hash64(normalize_source(source)));
  seed.message = "the starting masker";
  seed.created_at = utc_now();
  return db.insert_candidate(seed, {{"next_candidate_id", "2"}});
}

namespace {

// The loop's state between its steps: the rows, the population built from them, the workers, and
// why the run stops. run_loop drives it; each method is one concern (stop policy, scheduling,
// collecting, heartbeat, the terminal's status line).
class Loop {
 public:
  Loop(const RunConfig& config, RunDb& db, Proposer& proposer, Proposer* tuner, RunEvaluators& evaluators, const LoopOptions& options)
      : config_(config), db_(db), proposer_(proposer), options_(options),
        context_{&config, &db, &proposer, tuner, &evaluators, &cancel_},
        population_(config, proposer.supports_fix_up(), recipe_size_feature),
        elapsed_before_(std::strtod(db.state("elapsed_s", "0").c_str(), nullptr)) {}

  Status load();
  void run();
  LoopResult finish();

 private:
  double elapsed() const { return elapsed_before_ + std::chrono::duration<double>(Clock::now() - session_start_).count(); }
  void stop(StopReason reason, const std::string& detail, const Status& error = Status::Ok());
  bool stopped() const { return result_.stop_reason != StopReason::kNone; }
  bool take_in(int64_t through);
  void check_population_stops();
  void check_session_stops(const WorkerPool& pool);
  void issue(WorkerPool& pool);
  Status insert_selected(const Choice& choice);
  void collect(WorkerPool& pool);
  void heartbeat();
  void show_status_line(const WorkerPool& pool);

  const RunConfig& config_;
  RunDb& db_;
  Proposer& proposer_;
  const LoopOptions& options_;
  std::atomic<bool> cancel_{false};
  StepContext context_;
  Population population_;
  std::map<int64_t, CandidateRow> rows_;
  int64_t next_id_ = 1;
  int64_t taken_in_ = 0;  // rows 1..taken_in_ are in the population
  int64_t failures_ = 0, finished_this_session_ = 0;
  const double elapsed_before_;
  const Clock::time_point session_start_ = Clock::now();
  Clock::time_point last_heartbeat_ = Clock::now() - std::chrono::seconds(10);
  Clock::time_point last_line_ = Clock::now();
  // "new best" is announced only for a significant improvement (suite.h: beyond the seed noise of
  // the two and the run's margin).
  double shown_best_ = -INFINITY, shown_std_ = 0.0;
  LoopResult result_;
};

Status Loop::load() {
  std::vector<CandidateRow> stored;
  if (Status s = db_.list_candidates(&stored, true); !s.ok()) return s;
  for (CandidateRow& r : stored) rows_[r.id] = std::move(r);
  if (rows_.empty()) return Status::Error("the run has no seed candidate");
  next_id_ = rows_.rbegin()->first + 1;
  for (const auto& [id, row] : rows_)
    if (row.status == CandidateStatus::kEvaluated && *row.score > shown_best_) {
      shown_best_ = *row.score;
      shown_std_ = row.score_std.value_or(0.0);
    }
  return Status::Ok();
}

void Loop::stop(StopReason reason, const std::string& detail, const Status& error) {
  if (!error.ok()) result_.error = error;  // the latest fault, even after another reason stopped the run
  if (stopped()) return;
  result_.stop_reason = reason;
  result_.stop_detail = detail;
  if (reason == StopReason::kInterrupted || reason == StopReason::kError) cancel_ = true;
}

// Takes rows into the population in id order, as far as they are terminal, up to `through`.
bool Loop::take_in(int64_t through) {
  while (taken_in_ < through) {
    auto it = rows_.find(taken_in_ + 1);
    if (it == rows_.end() || !it->second.terminal()) return false;
    const CandidateRow& row = it->second;
    const CandidateRow* resolved = &row;
    if (row.status == CandidateStatus::kDuplicate && row.duplicate_of && rows_.count(*row.duplicate_of))
      resolved = &rows_[*row.duplicate_of];
    population_.add(row, *resolved);
    ++taken_in_;
    if (row.status != CandidateStatus::kEvaluated) ++failures_;
    check_population_stops();
  }
  return true;
}

// The stop conditions that depend on the candidates taken in (checked in id order).
void Loop::check_population_stops() {
  const Population& p = population_;
  if (std::isfinite(config_.target_score) && p.best_id() && p.best_score() >= config_.target_score)
    stop(StopReason::kTargetScore, fmt::format("the best score {:.6f} reached the target {:.6f}", p.best_score(), config_.target_score));
  if (config_.patience > 0 && p.best_id() && taken_in_ - p.last_improvement_id() >= config_.patience)
    stop(StopReason::kPatience, "no improvement in the last " + std::to_string(config_.patience) + " candidates (best is #" +
                                    std::to_string(*p.best_id()) + ")");
  if (config_.max_cost > 0 && p.total_cost() >= config_.max_cost)
    stop(StopReason::kMaxCost, fmt::format("proposer calls cost ${:.4f}, reaching the limit ${:.4f}", p.total_cost(), config_.max_cost));
}

// The stop conditions of this session: Ctrl-C, the LLM budget, wall time, a worker's fault.
void Loop::check_session_stops(const WorkerPool& pool) {
  if (options_.interrupt && options_.interrupt->load())
    stop(StopReason::kInterrupted, "interrupted (Ctrl-C or SIGTERM); adrs resume continues it");
  if (proposer_.budget_exhausted()) stop(StopReason::kMaxCost, "the LLM budget (llm.max_cost_usd) is spent; no new requests are made");
  if (config_.max_wall_s > 0 && elapsed() >= config_.max_wall_s)
    stop(StopReason::kMaxWallS, fmt::format("ran for {:.0f} s, reaching the limit of {:.0f} s", elapsed(), config_.max_wall_s));
  if (auto fault = pool.fault()) stop(StopReason::kError, fault->message(), *fault);
}

// Stores the choice for candidate next_id_ as a "selected" row (with the next id, one transaction).
Status Loop::insert_selected(const Choice& choice) {
  CandidateRow row;
  row.id = next_id_;
  row.parent_id = choice.parent_id;
  if (choice.kind == MutationKind::kCrossover && !choice.inspiration_ids.empty()) row.second_parent_id = choice.inspiration_ids[0];
  row.island = choice.island;
  row.generation = rows_.count(choice.parent_id) ? rows_[choice.parent_id].generation + 1 : 1;
  row.mutation = mutation_kind_name(choice.kind);
  row.status = CandidateStatus::kSelected;
  row.proposer_seed = combine_seed(config_.seed ^ 0x70726f706f736572ULL, static_cast<uint64_t>(next_id_));
  row.stage1_threshold = choice.stage1_threshold;
  row.request_json = request_record(choice).dump();
  row.created_at = utc_now();
  if (Status s = db_.insert_candidate(row, {{"next_candidate_id", std::to_string(next_id_ + 1)}}); !s.ok()) return s;
  rows_[next_id_] = std::move(row);
  return Status::Ok();
}

// Issues new candidates while the window allows it: candidate i is chosen from rows 1..i-parallel.
void Loop::issue(WorkerPool& pool) {
  while (!stopped() && next_id_ <= config_.max_candidates && pool.in_flight() < config_.parallel &&
         take_in(std::max<int64_t>(1, next_id_ - config_.parallel)) && !stopped()) {
    if (population_.empty()) {
      const CandidateRow& seed = rows_.begin()->second;
      const std::string detail = "the seed masker failed (" + seed.failure + "): " + seed.message.substr(0, 2000);
      stop(StopReason::kError, detail, Status::Error(detail));
      return;
    }
    if (Status s = insert_selected(population_.choose(next_id_, config_.seed)); !s.ok()) {
      stop(StopReason::kError, s.message(), s);
      return;
    }
    pool.submit(next_id_);
    ++next_id_;
  }
}

// Takes in the rows the workers finished (waiting a little for news) and logs them.
void Loop::collect(WorkerPool& pool) {
  std::map<int64_t, CandidateRow> done;
  pool.collect(&done, std::chrono::milliseconds(200));
  for (auto& [id, row] : done) {
    const bool new_best = row.status == CandidateStatus::kEvaluated &&
                          significantly_better(*row.score, row.score_std.value_or(0.0), shown_best_, shown_std_, config_.improvement_margin);
    if (new_best) {
      shown_best_ = *row.score;
      shown_std_ = row.score_std.value_or(0.0);
    }
    if (!options_.quiet && !options_.live_status) spdlog::info("{}{}", new_best ? "new best " : "", describe_row(row));
    if (options_.live_status && new_best) std::fprintf(stderr, "\r\033[Knew best %s\n", describe_row(row).c_str());
    ++finished_this_session_;
    rows_[id] = std::move(row);
  }
}

// The heartbeat is a write, so it also checks that run.db is still the file the run opened: a run
// directory deleted while a long evaluation runs is noticed within seconds.
void Loop::heartbeat() {
  if (Clock::now() - last_heartbeat_ <= std::chrono::seconds(2)) return;
  last_heartbeat_ = Clock::now();
  if (Status s = db_.set_states({{"elapsed_s", std::to_string(elapsed())}, {"heartbeat", utc_now()}}); !s.ok())
    stop(StopReason::kError, s.message(), s);
}

// One refreshing line on a terminal: progress, rate, best, failures, work in flight.
void Loop::show_status_line(const WorkerPool& pool) {
  if (!options_.live_status || Clock::now() - last_line_ <= std::chrono::milliseconds(250)) return;
  last_line_ = Clock::now();
  const double rate = finished_this_session_ / std::max(1e-9, std::chrono::duration<double>(Clock::now() - session_start_).count());
  const std::string best =
      population_.best_id() ? fmt::format("{:.6f} (#{})", population_.best_score(), *population_.best_id()) : "-";
  std::fprintf(stderr, "\r\033[K%lld/%lld candidates  %.2f/s  best %s  failed %lld  in flight %d",
               static_cast<long long>(next_id_ - 1 - pool.in_flight()), static_cast<long long>(config_.max_candidates), rate,
               best.c_str(), static_cast<long long>(failures_), pool.in_flight());
  std::fflush(stderr);
}

void Loop::run() {
  WorkerPool pool(context_, config_.parallel);
  for (const auto& [id, row] : rows_)
    if (!row.terminal()) pool.submit(id);
  for (;;) {
    check_session_stops(pool);
    issue(pool);
    if ((stopped() || next_id_ > config_.max_candidates) && pool.in_flight() == 0) break;
    collect(pool);
    heartbeat();
    show_status_line(pool);
  }
  if (options_.live_status) std::fprintf(stderr, "\r\033[K");
}

LoopResult Loop::finish() {
  take_in(next_id_ - 1);  // everything finished: the final population (no more choices depend on it)
  if (!stopped()) stop(StopReason::kMaxCandidates, "all " + std::to_string(config_.max_candidates) + " candidates of the budget are done");
  if (Status s = db_.set_states({{"elapsed_s", std::to_string(elapsed())}}); !s.ok() && result_.stop_reason != StopReason::kError)
    result_ = {StopReason::kError, s.message(), s};
  return result_;
}

}  // namespace

LoopResult run_loop(const RunConfig& config, RunDb& db, Proposer& proposer, Proposer* tuner, RunEvaluators& evaluators,
                    const LoopOptions& options) {
  Loop loop(config, db, proposer, tuner, evaluators, options);
  if (Status s = loop.load(); !s.ok()) return {StopReason::kError, s.message(), s};
  loop.run();
  return loop.finish();
}

}  // namespace adrs

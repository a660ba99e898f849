#include "driver/run/run_loop.h"

#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <spdlog/spdlog.h>

#include "driver/run/population.h"
#include "driver/cli/table.h"
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
  // Candidates still waiting for their proposal (the proposer's slots in use).
  int proposing() const {
    std::lock_guard lock(mutex_);
    return static_cast<int>(proposing_.size());
  }
  ~WorkerPool() {
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
    }
    wake_.notify_all();
    for (std::thread& t : threads_) t.join();
  }
  void submit(int64_t id, bool needs_proposal) {
    {
      std::lock_guard lock(mutex_);
      queue_.push_back(id);
      ++in_flight_;
      if (needs_proposal) proposing_.insert(id);
    }
    wake_.notify_all();
  }
  // Waits up to `timeout` for news; moves finished rows into `done`.
  // Asynchronous schedule: also wakes when a proposal finishes (a proposer slot came free).
  void collect(std::map<int64_t, CandidateRow>* done, std::chrono::milliseconds timeout, bool on_proposal = false) {
    std::unique_lock lock(mutex_);
    done_cv_.wait_for(lock, timeout, [&] {
      return !finished_.empty() || !faults_.empty() || abandoned_ > 0 || (on_proposal && proposals_ended_ > 0);
    });
    proposals_ended_ = 0;
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
      StepContext context = context_;
      context.proposal_done = [this, id] { proposal_done(id); };
      const StepOutcome outcome = context_.cancel->load() ? StepOutcome::kAbandoned : process_candidate(context, id, &row, &fault);
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

  void proposal_done(int64_t id) {
    {
      std::lock_guard lock(mutex_);
      if (proposing_.erase(id)) ++proposals_ended_;
    }
    done_cv_.notify_all();
  }

  StepContext context_;
  mutable std::mutex mutex_;
  std::set<int64_t> proposing_;
  std::condition_variable wake_, done_cv_;
  std::deque<int64_t> queue_;
  std::map<int64_t, CandidateRow> finished_;
  std::vector<Status> faults_;
  int abandoned_ = 0, proposals_ended_ = 0;
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
  if (r.status == "evaluated") {
    char text[160];
    std::snprintf(text, sizeof text, ": score %.6f error %.6f density %.4f", *r.score, *r.error, *r.density);
    return head + text + (r.message.empty() ? "" : "  [" + r.message.substr(0, 120) + "]");
  }
  std::string why = r.message.substr(0, r.message.find('\n'));
  return head + ": " + r.status + (r.failure.empty() ? "" : " " + r.failure) + (why.empty() ? "" : ": " + why.substr(0, 160));
}

// The rows that make up the population, in the order they entered it. Deterministic schedule:
// id order, as far as every row is terminal. Asynchronous schedule: completion order, recorded
// in applied_seq; a duplicate waits for the row it copies (its result is that row's).
class Intake {
 public:
  Intake(const RunConfig& config, Population* population, std::map<int64_t, CandidateRow>* rows)
      : config_(config), population_(population), rows_(rows) {}

  // Resume: rows applied before, in their recorded order; then finished rows never applied.
  void restore() {
    std::vector<const CandidateRow*> sequenced;
    for (const auto& [id, row] : *rows_)
      if (row.terminal() && row.applied_seq) sequenced.push_back(&row);
    std::sort(sequenced.begin(), sequenced.end(), [](auto* a, auto* b) { return *a->applied_seq < *b->applied_seq; });
    for (const CandidateRow* row : sequenced) absorb(*row);
    for (const auto& [id, row] : *rows_)
      if (row.terminal() && !applied_.count(id)) pending_.push_back(id);
  }
  // A row that just became terminal (asynchronous schedule).
  void finished(int64_t id) { pending_.push_back(id); }

  // Deterministic schedule: takes rows into the population in id order up to `through`; false
  // while one of them is still in flight.
  bool take_in_order(int64_t through) {
    while (population_->added() < through) {
      auto it = rows_->find(population_->added() + 1);
      if (it == rows_->end() || !it->second.terminal()) return false;
      absorb(it->second);
    }
    return true;
  }
  // Asynchronous schedule: takes every finished row in completion order and records that order.
  Status take_in_finished(RunDb& db) {
    std::vector<std::pair<int64_t, int64_t>> order;
    for (bool progress = true; progress;) {
      progress = false;
      for (auto it = pending_.begin(); it != pending_.end();) {
        const CandidateRow& row = (*rows_)[*it];
        if (row.status == "duplicate" && row.duplicate_of && rows_->count(*row.duplicate_of) && !applied_.count(*row.duplicate_of)) {
          ++it;
          continue;
        }
        absorb(row);
        if (!row.applied_seq) order.push_back({row.id, population_->added()});
        it = pending_.erase(it);
        progress = true;
      }
    }
    return db.set_applied_order(order);
  }

  int64_t failures() const { return failures_; }
  int64_t since_improvement() const { return population_->added() - added_at_improvement_; }
  std::string stop_reason, stop_detail;

 private:
  void absorb(const CandidateRow& row) {
    const CandidateRow* resolved = &row;
    if (row.status == "duplicate" && row.duplicate_of && rows_->count(*row.duplicate_of)) resolved = &(*rows_)[*row.duplicate_of];
    const std::optional<int64_t> best_before = population_->best_id();
    const double score_before = population_->best_score();
    population_->add(row, *resolved);
    applied_.insert(row.id);
    if (row.status != "evaluated") ++failures_;
    if (population_->best_id() && (!best_before || population_->best_score() > score_before + 1e-12))
      added_at_improvement_ = population_->added();
    check_stops();
  }
  void check_stops() {
    if (!stop_reason.empty()) return;
    const Population& p = *population_;
    if (std::isfinite(config_.target_score) && p.best_id() && p.best_score() >= config_.target_score) {
      stop_reason = "target_score";
      stop_detail = format("the best score %.6f reached the target %.6f", p.best_score(), config_.target_score);
    } else if (config_.patience > 0 && p.best_id() && since_improvement() >= config_.patience) {
      stop_reason = "patience";
      stop_detail = "no improvement in the last " + std::to_string(config_.patience) + " candidates (best is #" +
                    std::to_string(*p.best_id()) + ")";
    } else if (config_.max_cost > 0 && p.total_cost() >= config_.max_cost) {
      stop_reason = "max_cost";
      stop_detail = format("proposer calls cost $%.4f, reaching the limit $%.4f", p.total_cost(), config_.max_cost);
    }
  }

  const RunConfig& config_;
  Population* population_;
  std::map<int64_t, CandidateRow>* rows_;
  std::set<int64_t> applied_;
  std::vector<int64_t> pending_;
  int64_t failures_ = 0, added_at_improvement_ = 0;
};

// A new "selected" row for candidate `id` from the population's choice.
CandidateRow selected_row(const RunConfig& config, const Population& population, const std::map<int64_t, CandidateRow>& rows,
                          int64_t id) {
  const Choice choice = population.choose(id, config.seed);
  CandidateRow row;
  row.id = id;
  row.parent_id = choice.parent_id;
  if (choice.kind == MutationKind::kCrossover && !choice.inspiration_ids.empty()) row.second_parent_id = choice.inspiration_ids[0];
  row.island = choice.island;
  auto parent = rows.find(choice.parent_id);
  row.generation = parent != rows.end() ? parent->second.generation + 1 : 1;
  row.mutation = mutation_kind_name(choice.kind);
  row.status = "selected";
  row.proposer_seed = combine_seed(config.seed ^ 0x70726f706f736572ULL, static_cast<uint64_t>(id));
  row.stage1_threshold = choice.stage1_threshold;
  nlohmann::json request = request_record(choice);
  // The population the choice saw: rows 1..id-parallel (deterministic), or the first `view`
  // rows in applied_seq order (asynchronous). tests/run_async_test.cc recomputes choices from it.
  request["view"] = population.added();
  row.request_json = request.dump();
  row.created_at = utc_now();
  return row;
}

void print_progress(int64_t done, int64_t budget, double rate, const Population& population, int64_t failures, int in_flight) {
  std::fprintf(stderr, "\r\033[K%lld/%lld candidates  %.2f/s  best %s  failed %lld  in flight %d", static_cast<long long>(done),
               static_cast<long long>(budget), rate,
               population.best_id() ? format("%.6f (#%lld)", population.best_score(), static_cast<long long>(*population.best_id())).c_str() : "-",
               static_cast<long long>(failures), in_flight);
  std::fflush(stderr);
}

}  // namespace

int resolve_eval_workers(const RunConfig& config, int devices) {
  if (config.eval_workers > 0) return config.eval_workers;
  if (config.executor == "slurm") return config.max_tasks;  // the cluster's cores, not this machine's
  const int cores = std::max(1u, std::thread::hardware_concurrency());
  const int per_worker = config.eval_threads > 0 ? config.eval_threads : cores;
  // Every core runs a masker worker; each GPU gets at least two evaluations so its scoring of one
  // overlaps the CPU-side work of the next.
  return std::max({1, cores / std::max(1, per_worker), 2 * devices});
}

int resolve_parallel(const RunConfig& config, int eval_workers) {
  return config.parallel > 0 ? config.parallel : std::max(2, eval_workers);
}

Status insert_seed_candidate(RunDb& db, const std::string& source) {
  CandidateRow seed;
  seed.id = 1;
  seed.island = 0;
  seed.generation = 0;
  seed.mutation = mutation_kind_name(MutationKind::kSeed);
  seed.status = "proposed";
  seed.source = source;
  seed.source_hash = hex64(hash64(normalize_source(source)));
  seed.message = "the starting masker";
  seed.created_at = utc_now();
  return db.insert_candidate(seed, {{"next_candidate_id", "2"}});
}

LoopResult run_loop(const RunConfig& config, RunDb& db, Proposer& proposer, Proposer* tuner, RunEvaluators& evaluators,
                    const LoopOptions& options) {
  LoopResult result;
  std::vector<CandidateRow> stored;
  if (Status s = db.list_candidates(&stored, true); !s.ok()) return {"error", s.message(), s};
  std::map<int64_t, CandidateRow> rows;
  for (CandidateRow& r : stored) rows[r.id] = std::move(r);
  stored.clear();
  if (rows.empty()) return {"error", "the run has no seed candidate", Status::Error("the run has no seed candidate")};
  int64_t next_id = rows.rbegin()->first + 1;

  const bool async = config.async();
  const int eval_workers = resolve_eval_workers(config, evaluators.devices());
  const int parallel = resolve_parallel(config, eval_workers);
  // Asynchronous: `parallel` proposals at once, and enough proposed candidates queued that every
  // evaluation slot stays busy. Deterministic: `parallel` candidates in flight, each its own slot.
  const int max_in_flight = async ? parallel + 2 * eval_workers : parallel;
  std::atomic<bool> cancel{false};
  std::mutex dedup_mutex;
  EvalSlots slots(eval_workers);
  StepContext context;
  context.config = &config;
  context.db = &db;
  context.proposer = &proposer;
  context.tuner = tuner;
  context.evaluators = &evaluators;
  context.cancel = &cancel;
  if (async) {
    context.dedup_mutex = &dedup_mutex;
    context.eval_slots = &slots;
  }
  Population population(config, proposer.supports_fix_up());
  Intake intake(config, &population, &rows);
  if (async) intake.restore();
  const double elapsed_before = std::strtod(db.state("elapsed_s", "0").c_str(), nullptr);
  const auto session_start = Clock::now();
  auto elapsed = [&] { return elapsed_before + std::chrono::duration<double>(Clock::now() - session_start).count(); };
  int64_t finished_this_session = 0;

  auto stop = [&](const std::string& reason, const std::string& detail) {
    if (!result.stop_reason.empty()) return;
    result.stop_reason = reason;
    result.stop_detail = detail;
    if (reason == "interrupted" || reason == "error") cancel = true;
  };
  auto fail = [&](const Status& s) {
    stop("error", s.message());
    if (result.error.ok()) result.error = s;
  };
  // Takes finished rows into the population; false while the window's rows are still in flight.
  auto take_in = [&](int64_t through) {
    bool ready = true;
    if (async) {
      if (Status s = intake.take_in_finished(db); !s.ok()) fail(s);
    } else {
      ready = intake.take_in_order(through);
    }
    if (!intake.stop_reason.empty()) stop(intake.stop_reason, intake.stop_detail);
    return ready;
  };

  WorkerPool pool(context, max_in_flight);
  for (const auto& [id, row] : rows)
    if (!row.terminal()) pool.submit(id, row.status == "selected");
  auto last_heartbeat = Clock::now() - std::chrono::seconds(10);
  auto last_line = Clock::now();
  double shown_best = -INFINITY;
  for (const auto& [id, row] : rows)
    if (row.status == "evaluated") shown_best = std::max(shown_best, *row.score);
  auto may_issue = [&] {
    if (!result.stop_reason.empty() || next_id > config.max_candidates) return false;
    if (async) return pool.proposing() < parallel && pool.in_flight() < max_in_flight && (take_in(0), result.stop_reason.empty());
    return pool.in_flight() < parallel && take_in(std::max<int64_t>(1, next_id - parallel)) && result.stop_reason.empty();
  };
  for (;;) {
    if (options.interrupt && options.interrupt->load()) stop("interrupted", "interrupted (Ctrl-C or SIGTERM); adrs resume continues it");
    if (proposer.budget_exhausted())
      stop("max_cost", "the LLM budget (llm.max_cost_usd) is spent; no new requests are made");
    if (config.max_wall_s > 0 && elapsed() >= config.max_wall_s)
      stop("max_wall_s", format("ran for %.0f s, reaching the limit of %.0f s", elapsed(), config.max_wall_s));
    if (auto fault = pool.fault()) fail(*fault);
    // Issue new candidates while the window allows it.
    while (may_issue()) {
      if (population.empty()) {
        if (async && !rows.begin()->second.terminal()) break;  // the seed is still being scored
        const CandidateRow& seed = rows.begin()->second;
        fail(Status::Error("the seed masker failed (" + seed.failure + "): " + seed.message.substr(0, 2000)));
        break;
      }
      CandidateRow row = selected_row(config, population, rows, next_id);
      if (Status s = db.insert_candidate(row, {{"next_candidate_id", std::to_string(next_id + 1)}}); !s.ok()) {
        fail(s);
        break;
      }
      rows[next_id] = std::move(row);
      pool.submit(next_id, true);
      ++next_id;
    }
    const bool issuing_done = !result.stop_reason.empty() || next_id > config.max_candidates;
    if (issuing_done && pool.in_flight() == 0) break;
    std::map<int64_t, CandidateRow> done;
    pool.collect(&done, std::chrono::milliseconds(200), async);
    for (auto& [id, row] : done) {
      if (!options.quiet && !options.live_status) spdlog::info("{}", describe_row(row));
      if (options.live_status && row.status == "evaluated" && *row.score > shown_best) {
        shown_best = *row.score;
        std::fprintf(stderr, "\r\033[Knew best %s\n", describe_row(row).c_str());
      }
      ++finished_this_session;
      rows[id] = std::move(row);
      if (async) intake.finished(id);
    }
    if (async) take_in(0);
    if (Clock::now() - last_heartbeat > std::chrono::seconds(2)) {
      // The heartbeat is a write, so it also checks that run.db is still the file the run opened:
      // a run directory deleted while a long evaluation runs is noticed within seconds.
      last_heartbeat = Clock::now();
      if (Status s = db.set_states({{"elapsed_s", std::to_string(elapsed())}, {"heartbeat", utc_now()}}); !s.ok()) fail(s);
    }
    if (options.live_status && Clock::now() - last_line > std::chrono::milliseconds(250)) {
      last_line = Clock::now();
      const double rate = finished_this_session / std::max(1e-9, std::chrono::duration<double>(Clock::now() - session_start).count());
      print_progress(next_id - 1 - pool.in_flight(), config.max_candidates, rate, population, intake.failures(), pool.in_flight());
    }
  }
  if (options.live_status) std::fprintf(stderr, "\r\033[K");
  take_in(next_id - 1);  // everything finished: the final population (no more choices depend on it)
  if (result.stop_reason.empty())
    stop("max_candidates", "all " + std::to_string(config.max_candidates) + " candidates of the budget are done");
  if (Status s = db.set_states({{"elapsed_s", std::to_string(elapsed())}}); !s.ok() && result.stop_reason != "error") {
    result = {"error", s.message(), s};
  }
  return result;
}

}  // namespace adrs

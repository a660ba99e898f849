#include "driver/run/run_loop.h"

#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include <spdlog/spdlog.h>

#include "driver/run/population.h"
#include "driver/run/suite.h"
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
  if (r.status == "evaluated") {
    char text[160];
    std::snprintf(text, sizeof text, ": score %.6f error %.6f density %.4f", *r.score, *r.error, *r.density);
    return head + text + (r.message.empty() ? "" : "  [" + r.message.substr(0, 120) + "]");
  }
  std::string why = r.message.substr(0, r.message.find('\n'));
  return head + ": " + r.status + (r.failure.empty() ? "" : " " + r.failure) + (why.empty() ? "" : ": " + why.substr(0, 160));
}

}  // namespace

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
  int64_t next_id = rows.empty() ? 1 : rows.rbegin()->first + 1;

  std::atomic<bool> cancel{false};
  StepContext context{&config, &db, &proposer, tuner, &evaluators, &cancel};
  Population population(config, proposer.supports_fix_up());
  int64_t taken_in = 0;  // rows 1..taken_in are in the population
  const double elapsed_before = std::strtod(db.state("elapsed_s", "0").c_str(), nullptr);
  const auto session_start = Clock::now();
  auto elapsed = [&] { return elapsed_before + std::chrono::duration<double>(Clock::now() - session_start).count(); };
  int64_t failures = 0, finished_this_session = 0;

  auto stop = [&](const std::string& reason, const std::string& detail) {
    if (!result.stop_reason.empty()) return;
    result.stop_reason = reason;
    result.stop_detail = detail;
    if (reason == "interrupted" || reason == "error") cancel = true;
  };
  // Takes rows into the population in id order, as far as they are terminal, up to `through`.
  auto take_in = [&](int64_t through) {
    while (taken_in < through) {
      auto it = rows.find(taken_in + 1);
      if (it == rows.end() || !it->second.terminal()) return false;
      const CandidateRow& row = it->second;
      const CandidateRow* resolved = &row;
      if (row.status == "duplicate" && row.duplicate_of && rows.count(*row.duplicate_of)) resolved = &rows[*row.duplicate_of];
      population.add(row, *resolved);
      ++taken_in;
      if (row.status != "evaluated") ++failures;
      if (std::isfinite(config.target_score) && population.best_id() && population.best_score() >= config.target_score)
        stop("target_score", format("the best score %.6f reached the target %.6f", population.best_score(), config.target_score));
      if (config.patience > 0 && population.best_id() && taken_in - population.last_improvement_id() >= config.patience)
        stop("patience", "no improvement in the last " + std::to_string(config.patience) + " candidates (best is #" +
                             std::to_string(*population.best_id()) + ")");
      if (config.max_cost > 0 && population.total_cost() >= config.max_cost)
        stop("max_cost", format("proposer calls cost $%.4f, reaching the limit $%.4f", population.total_cost(), config.max_cost));
    }
    return true;
  };

  if (rows.empty()) return {"error", "the run has no seed candidate", Status::Error("the run has no seed candidate")};
  WorkerPool pool(context, config.parallel);
  for (const auto& [id, row] : rows)
    if (!row.terminal()) pool.submit(id);
  auto last_heartbeat = Clock::now() - std::chrono::seconds(10);
  auto last_line = Clock::now();
  // "new best" is announced only for a significant improvement (suite.h: beyond the seed noise of
  // the two and the run's margin).
  double shown_best = -INFINITY, shown_std = 0.0;
  for (const auto& [id, row] : rows)
    if (row.status == "evaluated" && *row.score > shown_best) {
      shown_best = *row.score;
      shown_std = row.score_std.value_or(0.0);
    }
  for (;;) {
    if (options.interrupt && options.interrupt->load()) stop("interrupted", "interrupted (Ctrl-C or SIGTERM); adrs resume continues it");
    if (proposer.budget_exhausted())
      stop("max_cost", "the LLM budget (llm.max_cost_usd) is spent; no new requests are made");
    if (config.max_wall_s > 0 && elapsed() >= config.max_wall_s)
      stop("max_wall_s", format("ran for %.0f s, reaching the limit of %.0f s", elapsed(), config.max_wall_s));
    if (auto fault = pool.fault()) {
      stop("error", fault->message());
      result.error = *fault;
    }
    // Issue new candidates while the window allows it.
    while (result.stop_reason.empty() && next_id <= config.max_candidates && pool.in_flight() < config.parallel &&
           take_in(std::max<int64_t>(1, next_id - config.parallel)) && result.stop_reason.empty()) {
      if (population.empty()) {
        const CandidateRow& seed = rows.begin()->second;
        stop("error", "the seed masker failed (" + seed.failure + "): " + seed.message.substr(0, 2000));
        result.error = Status::Error(result.stop_detail);
        break;
      }
      const Choice choice = population.choose(next_id, config.seed);
      CandidateRow row;
      row.id = next_id;
      row.parent_id = choice.parent_id;
      if (choice.kind == MutationKind::kCrossover && !choice.inspiration_ids.empty()) row.second_parent_id = choice.inspiration_ids[0];
      row.island = choice.island;
      row.generation = rows.count(choice.parent_id) ? rows[choice.parent_id].generation + 1 : 1;
      row.mutation = mutation_kind_name(choice.kind);
      row.status = "selected";
      row.proposer_seed = combine_seed(config.seed ^ 0x70726f706f736572ULL, static_cast<uint64_t>(next_id));
      row.stage1_threshold = choice.stage1_threshold;
      row.request_json = request_record(choice).dump();
      row.created_at = utc_now();
      if (Status s = db.insert_candidate(row, {{"next_candidate_id", std::to_string(next_id + 1)}}); !s.ok()) {
        stop("error", s.message());
        result.error = s;
        break;
      }
      rows[next_id] = row;
      pool.submit(next_id);
      ++next_id;
    }
    const bool issuing_done = !result.stop_reason.empty() || next_id > config.max_candidates;
    if (issuing_done && pool.in_flight() == 0) break;
    std::map<int64_t, CandidateRow> done;
    pool.collect(&done, std::chrono::milliseconds(200));
    for (auto& [id, row] : done) {
      const bool new_best = row.status == "evaluated" &&
                            significantly_better(*row.score, row.score_std.value_or(0.0), shown_best, shown_std, config.improvement_margin);
      if (new_best) {
        shown_best = *row.score;
        shown_std = row.score_std.value_or(0.0);
      }
      if (!options.quiet && !options.live_status) spdlog::info("{}{}", new_best ? "new best " : "", describe_row(row));
      if (options.live_status && new_best) std::fprintf(stderr, "\r\033[Knew best %s\n", describe_row(row).c_str());
      ++finished_this_session;
      rows[id] = std::move(row);
    }
    if (Clock::now() - last_heartbeat > std::chrono::seconds(2)) {
      // The heartbeat is a write, so it also checks that run.db is still the file the run opened:
      // a run directory deleted while a long evaluation runs is noticed within seconds.
      last_heartbeat = Clock::now();
      if (Status s = db.set_states({{"elapsed_s", std::to_string(elapsed())}, {"heartbeat", utc_now()}}); !s.ok()) {
        stop("error", s.message());
        result.error = s;
      }
    }
    if (options.live_status && Clock::now() - last_line > std::chrono::milliseconds(250)) {
      last_line = Clock::now();
      const double rate = finished_this_session / std::max(1e-9, std::chrono::duration<double>(Clock::now() - session_start).count());
      std::fprintf(stderr, "\r\033[K%lld/%lld candidates  %.2f/s  best %s  failed %lld  in flight %d",
                   static_cast<long long>(next_id - 1 - pool.in_flight()), static_cast<long long>(config.max_candidates), rate,
                   population.best_id() ? format("%.6f (#%lld)", population.best_score(), static_cast<long long>(*population.best_id())).c_str() : "-",
                   static_cast<long long>(failures), pool.in_flight());
      std::fflush(stderr);
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

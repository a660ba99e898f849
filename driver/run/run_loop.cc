#include "driver/run/run_loop.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "driver/propose/building_blocks.h"
#include "driver/run/population.h"
#include "driver/run/run_hints.h"
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

// `text` cut to `width` columns at a word boundary (a status line must not wrap: \r would then
// rewrite only its last part).
std::string fit_words(const std::string& text, size_t width) {
  if (text.size() <= width) return text;
  const size_t cut = text.rfind(' ', width);
  return text.substr(0, cut == std::string::npos || cut == 0 ? width : cut);
}

std::string describe_row(const CandidateRow& r) {
  std::string head = "#" + std::to_string(r.id);
  if (r.parent_id) head += " (parent " + std::to_string(*r.parent_id) + ", " + r.mutation + ", island " + std::to_string(r.island) + ")";
  if (r.status == CandidateStatus::kEvaluated) {
    return head + fmt::format(": score {:.6f} error {:.6f} density {:.4f}", *r.score, *r.error, *r.density) + (r.message.empty() ? "" : "  [" + fit_words(r.message, 120) + "]");
  }
  std::string why = r.message.substr(0, r.message.find('\n'));
  return head + ": " + candidate_status_name(r.status) + (r.failure.empty() ? "" : " " + r.failure) + (why.empty() ? "" : ": " + fit_words(why, 160));
}

// "12m05s", "48s".
std::string duration_text(double seconds) {
  const long s = std::lround(std::max(0.0, seconds));
  return s >= 3600 ? fmt::format("{}h{:02}m", s / 3600, s / 60 % 60) : s >= 60 ? fmt::format("{}m{:02}s", s / 60, s % 60) : fmt::format("{}s", s);
}

size_t terminal_columns() {
  winsize size{};
  return ::ioctl(2, TIOCGWINSZ, &size) == 0 && size.ws_col > 20 ? size.ws_col - 1 : 79;
}

// The kind of a proposer error: "llm:missing_key" from "llm:missing_key: the environment ...",
// else the first words of the message (a template that cannot be rendered, ...).
std::string proposer_error_kind(const CandidateRow& row) {
  const std::string& m = row.message;
  const size_t colon = m.find(':', m.rfind("llm:", 0) == 0 ? 4 : 0);
  return m.substr(0, std::min<size_t>(colon == std::string::npos ? m.size() : colon, 60));
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
  void count_proposer_errors(const CandidateRow& row);

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
  int64_t finished_this_session_ = 0;
  const double elapsed_before_;
  const Clock::time_point session_start_ = Clock::now();
  Clock::time_point last_heartbeat_ = Clock::now() - std::chrono::seconds(10);
  Clock::time_point last_line_ = Clock::now();
  // "new best" is announced only for a significant improvement (suite.h: beyond the seed noise of
  // the two and the run's margin).
  double shown_best_ = -INFINITY, shown_std_ = 0.0;
  // Proposer errors of one kind in a row among rows finished in this session (a resume after the
  // fix starts counting afresh).
  std::set<int64_t> terminal_at_start_;
  std::string error_kind_;
  int64_t errors_in_a_row_ = 0;
  CandidateRow last_error_;
  LoopResult result_;
};

Status Loop::load() {
  std::vector<CandidateRow> stored;
  if (Status s = db_.list_candidates(&stored, true); !s.ok()) return s;
  for (CandidateRow& r : stored) rows_[r.id] = std::move(r);
  if (rows_.empty()) return Status::Error("the run has no seed candidate");
  next_id_ = rows_.rbegin()->first + 1;
  for (const auto& [id, row] : rows_) {
    if (row.status == CandidateStatus::kEvaluated && *row.score > shown_best_) {
      shown_best_ = *row.score;
      shown_std_ = row.score_std.value_or(0.0);
    }
    if (row.terminal()) terminal_at_start_.insert(id);
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
    count_proposer_errors(row);
    check_population_stops();
  }
  return true;
}

// A broken LLM setup (a missing key, a server that is down) fails every proposal the same way: that
// many in a row stop the run instead of burning its budget.
void Loop::count_proposer_errors(const CandidateRow& row) {
  if (terminal_at_start_.count(row.id)) return;
  const std::string kind = row.failure == "proposer_error" ? proposer_error_kind(row) : "";
  errors_in_a_row_ = kind.empty() ? 0 : kind == error_kind_ ? errors_in_a_row_ + 1 : 1;
  error_kind_ = kind;
  if (!kind.empty()) last_error_ = row;
  if (config_.max_proposer_errors > 0 && errors_in_a_row_ >= config_.max_proposer_errors)
    stop(StopReason::kProposerErrors,
         std::to_string(errors_in_a_row_) + " proposer errors in a row (" + error_kind_ + ", up to #" + std::to_string(last_error_.id) +
             "): " + last_error_.message.substr(0, 600) +
             "\nfix the cause, then adrs resume continues the run (stop.max_proposer_errors sets the limit)");
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
  nlohmann::json request = request_record(choice);
  RunHint hint;  // given with adrs hint, maybe by another process while this one runs
  if (Status s = current_hint(db_, &hint); !s.ok()) return s;
  if (hint.number > 0) request["hint"] = {{"number", hint.number}, {"text", hint.text}};
  row.request_json = request.dump();
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

// One refreshing line on a terminal: done of budget, evaluated / duplicate / failed apart, the rate
// per minute (as the summary), elapsed time and ETA of this session, work in flight, the best.
void Loop::show_status_line(const WorkerPool& pool) {
  if (!options_.live_status || Clock::now() - last_line_ <= std::chrono::milliseconds(250)) return;
  last_line_ = Clock::now();
  int64_t done = 0, evaluated = 0, duplicates = 0;
  for (const auto& [id, row] : rows_) {
    if (!row.terminal()) continue;
    ++done;
    evaluated += row.status == CandidateStatus::kEvaluated;
    duplicates += row.status == CandidateStatus::kDuplicate;
  }
  const double session_s = std::chrono::duration<double>(Clock::now() - session_start_).count();
  const double per_minute = finished_this_session_ * 60.0 / std::max(1e-9, session_s);
  const std::string eta = finished_this_session_ > 0 ? duration_text((config_.max_candidates - done) / per_minute * 60.0) : "-";
  const std::string best =
      population_.best_id() ? fmt::format("{:.6f} (#{})", population_.best_score(), *population_.best_id()) : "-";
  const std::string line = fmt::format("{}/{} done: {} evaluated, {} duplicate, {} failed | {:.1f}/min | {} elapsed, ETA {} | "
                                       "in flight {} | best {}",
                                       done, config_.max_candidates, evaluated, duplicates, done - evaluated - duplicates, per_minute,
                                       duration_text(session_s), eta, pool.in_flight(), best);
  std::fprintf(stderr, "\r\033[K%s", fit_words(line, terminal_columns()).c_str());
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

#include "driver/run/run_loop.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "driver/propose/building_blocks.h"
#include "driver/run/run_hints.h"
#include "driver/run/run_loop_internal.h"
#include "driver/run/suite.h"
#include "util/hash.h"

namespace adrs {

namespace {

using Clock = std::chrono::steady_clock;

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

}  // namespace

int resolve_eval_workers(const RunConfig& config, int gpus) {
  if (config.eval_workers > 0) return config.eval_workers;
  if (config.executor == "slurm") return config.max_tasks;  // the cluster's cores, not this machine's
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int per_worker = config.eval_threads > 0 ? config.eval_threads : cores;
  // Every core runs a masker worker; each GPU gets at least two evaluations so its scoring of one
  // overlaps the CPU-side work of the next.
  return std::max({1, cores / std::max(1, per_worker), 2 * gpus});
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
  seed.status = CandidateStatus::kProposed;
  seed.source = source;
  seed.source_hash = hex64(hash64(normalize_source(source)));
  seed.message = "the starting masker";
  seed.created_at = utc_now();
  return db.insert_candidate(seed, {{"next_candidate_id", "2"}});
}

Loop::Loop(const RunConfig& config, RunDb& db, Proposer& proposer, Proposer* tuner, RunEvaluators& evaluators,
           const LoopOptions& options)
    : config_(config), db_(db), proposer_(proposer), options_(options), async_(config.async()),
      eval_workers_(resolve_eval_workers(config, evaluators.gpus())), parallel_(resolve_parallel(config, eval_workers_)),
      // Asynchronous: enough proposed candidates queued that every evaluation slot stays busy.
      max_in_flight_(async_ ? parallel_ + 2 * eval_workers_ : parallel_), eval_slots_(eval_workers_),
      population_(config, proposer.supports_fix_up(), recipe_size_feature),
      elapsed_before_(std::strtod(db.state("elapsed_s", "0").c_str(), nullptr)) {
  context_.config = &config;
  context_.db = &db;
  context_.proposer = &proposer;
  context_.tuner = tuner;
  context_.evaluators = &evaluators;
  context_.cancel = &cancel_;
  if (async_) {
    context_.dedup_mutex = &dedup_mutex_;
    context_.eval_slots = &eval_slots_;
  }
}

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
  if (async_) restore_applied_order();
  return Status::Ok();
}

void Loop::stop(StopReason reason, const std::string& detail, const Status& error) {
  if (!error.ok()) result_.error = error;  // the latest fault, even after another reason stopped the run
  if (stopped()) return;
  result_.stop_reason = reason;
  result_.stop_detail = detail;
  if (reason == StopReason::kInterrupted || reason == StopReason::kError) cancel_ = true;
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
  // Asynchronous: the population the choice saw, the first `view` rows in applied_seq order
  // (tests/run_async_test.cc recomputes every choice from it).
  if (async_) request["view"] = population_.added();
  row.request_json = request.dump();
  row.created_at = utc_now();
  if (Status s = db_.insert_candidate(row, {{"next_candidate_id", std::to_string(next_id_ + 1)}}); !s.ok()) return s;
  rows_[next_id_] = std::move(row);
  return Status::Ok();
}

// Whether another candidate may be chosen now. Deterministic: fewer than `parallel` in flight and
// rows 1..next-parallel in the population. Asynchronous: a proposer slot free, room in the queue,
// and whatever has finished taken in first.
bool Loop::may_issue(const WorkerPool& pool) {
  if (stopped() || next_id_ > config_.max_candidates) return false;
  if (async_) {
    if (pool.proposing() >= parallel_ || pool.in_flight() >= max_in_flight_) return false;
    take_in_finished();
    return !stopped();
  }
  return pool.in_flight() < parallel_ && take_in(std::max<int64_t>(1, next_id_ - parallel_)) && !stopped();
}

// Issues new candidates while the schedule allows it.
void Loop::issue(WorkerPool& pool) {
  while (may_issue(pool)) {
    if (population_.empty()) {
      const CandidateRow& seed = rows_.begin()->second;
      if (!seed.terminal()) return;  // asynchronous: the seed is still being scored
      const std::string detail = "the seed masker failed (" + seed.failure + "): " + seed.message.substr(0, 2000);
      stop(StopReason::kError, detail, Status::Error(detail));
      return;
    }
    if (Status s = insert_selected(population_.choose(next_id_, config_.seed)); !s.ok()) {
      stop(StopReason::kError, s.message(), s);
      return;
    }
    pool.submit(next_id_, true);
    ++next_id_;
  }
}

// Takes in the rows the workers finished (waiting a little for news) and logs them.
void Loop::collect(WorkerPool& pool) {
  std::map<int64_t, CandidateRow> done;
  pool.collect(&done, std::chrono::milliseconds(200), async_);
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
    if (async_) finished_.push_back(id);
  }
  if (async_) take_in_finished();
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
  WorkerPool pool(context_, max_in_flight_);
  for (const auto& [id, row] : rows_)
    if (!row.terminal()) pool.submit(id, row.status == CandidateStatus::kSelected);
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
  // Everything finished: the final population (no more choices depend on it).
  if (async_) take_in_finished();
  else take_in(next_id_ - 1);
  if (!stopped()) stop(StopReason::kMaxCandidates, "all " + std::to_string(config_.max_candidates) + " candidates of the budget are done");
  if (Status s = db_.set_states({{"elapsed_s", std::to_string(elapsed())}}); !s.ok() && result_.stop_reason != StopReason::kError)
    result_ = {StopReason::kError, s.message(), s};
  return result_;
}

LoopResult run_loop(const RunConfig& config, RunDb& db, Proposer& proposer, Proposer* tuner, RunEvaluators& evaluators,
                    const LoopOptions& options) {
  Loop loop(config, db, proposer, tuner, evaluators, options);
  if (Status s = loop.load(); !s.ok()) return {StopReason::kError, s.message(), s};
  loop.run();
  return loop.finish();
}

}  // namespace adrs

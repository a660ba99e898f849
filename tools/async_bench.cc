// adrs-async-bench: candidates per minute of `adrs run` with an LLM whose latency has a long tail,
// for each schedule (deterministic, async) and each `parallel`, against the ideal parallel / mean
// latency. The LLM is a loopback server (tests/fake_llm_server.h) answering after a log-normal
// delay (median 10 s and p99 90 s, times --scale); every answer is a distinct masker.
//
//   build-cpu/adrs-async-bench [--scale 0.2] [--parallel 2,8,32] [--schedules async,deterministic]
//                              [--out DIR] [--json FILE]
//
// Each answer i is the same masker source in every run, so a first run with no delay compiles
// them all into a shared cache: the timed runs measure the schedule, not the compiler. The rate
// is read from the run database while it runs, between 15% and 85% of the budget (no ramp-up,
// no drain of the last slow calls).
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/fake_llm_server.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string masker_answer(int i) {
  // A sink + window masker whose window fraction differs per answer: distinct sources, all valid.
  char fraction[32];
  std::snprintf(fraction, sizeof fraction, "%.6f", 0.02 + 0.0001 * i);
  return std::string("```cpp\n// EVOLVE-BLOCK-START\nvoid select(const adrs::Row& row, adrs::Selection& out) {\n") +
         "  const int n = row.num_keys;\n  const int w = std::max(1, static_cast<int>(" + fraction + " * n));\n" +
         "  for (int i = 0; i < std::min(4, n); ++i) out.add(i);\n" +
         "  for (int i = std::max(4, n - w); i < n; ++i) out.add(i);\n}\n// EVOLVE-BLOCK-END\n```\n";
}

// Terminal candidate rows so far (read-only; the run writes in WAL mode).
int terminal_rows(const std::string& db_path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    return -1;
  }
  sqlite3_busy_timeout(db, 2000);
  sqlite3_stmt* s = nullptr;
  int count = -1;
  if (sqlite3_prepare_v2(db, "SELECT count(*) FROM candidates WHERE status NOT IN ('selected', 'proposed')", -1, &s, nullptr) == SQLITE_OK &&
      sqlite3_step(s) == SQLITE_ROW)
    count = sqlite3_column_int(s, 0);
  sqlite3_finalize(s);
  sqlite3_close(db);
  return count;
}

struct Latency {
  double scale = 0.2;
  double median() const { return 10.0 * scale; }
  double sigma() const { return std::log(9.0) / 2.3263478740; }  // p99 / median = 9
  double mean() const { return median() * std::exp(sigma() * sigma() / 2); }
};

struct Result {
  std::string schedule;
  int parallel = 0, budget = 0;
  double rate_per_min = 0, ideal_per_min = 0, served_mean_s = 0;
  int exit_code = 0;
};

class Bench {
 public:
  Bench(std::string adrs, std::string dir, Latency latency) : adrs_(std::move(adrs)), dir_(std::move(dir)), latency_(latency) {
    server_.set_default([this](const adrs::test::RecordedRequest&, int) { return reply(); });
  }

  // One run; delay false answers at once (the warm-up that fills the compile cache).
  Result run(const std::string& schedule, int parallel, int budget, bool delay) {
    {
      std::lock_guard lock(mutex_);
      next_answer_ = 0;
      delay_ = delay;
      served_.clear();
      rng_.seed(1234 + parallel);
    }
    const std::string name = schedule + "-p" + std::to_string(parallel) + (delay ? "" : "-warm");
    const std::string config = dir_ + "/" + name + ".toml";
    std::ofstream(config) << "[run]\nname = \"" << name << "\"\nseed = 5\n[evaluation]\nworkload = \"smoke\"\ndevice = \"cpu\"\n"
                          << "[search]\nparallel = " << parallel << "\nschedule = \"" << schedule << "\"\nislands = 2\n"
                          << "[proposer]\nproposer = \"llm\"\n[stop]\nmax_candidates = " << budget << "\n"
                          << "[llm]\nmax_cost_usd = 1000.0\nmax_attempts = 1\n[[llm.models]]\nname = \"loopback\"\n"
                          << "provider = \"openai\"\nbase_url = \"" << server_.base_url() << "\"\napi_key_env = \"ADRS_BENCH_KEY\"\n"
                          << "weight = 1\ninput_price_per_mtok = 0\noutput_price_per_mtok = 0\ntimeout = 600\n";
    fs::remove_all(dir_ + "/" + name);
    const std::string command = adrs_ + " run --config " + config + " --runs-dir " + dir_ + " --cache-dir " + dir_ +
                                "/cache --quiet > " + dir_ + "/" + name + ".log 2>&1";
    Result r{schedule, parallel, budget};
    std::thread runner([&] { r.exit_code = std::system(command.c_str()); });
    // The window: from 15% to 85% of the budget finished.
    const int low = budget * 15 / 100, high = budget * 85 / 100;
    Clock::time_point t_low{}, t_high{};
    int n_low = -1, n_high = -1;
    for (bool done = false; !done;) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      const int n = terminal_rows(dir_ + "/" + name + "/run.db");
      if (n_low < 0 && n >= low) n_low = n, t_low = Clock::now();
      if (n_high < 0 && n >= high) n_high = n, t_high = Clock::now(), done = true;
      if (n >= budget) done = true;
    }
    runner.join();
    if (n_low >= 0 && n_high > n_low) r.rate_per_min = 60.0 * (n_high - n_low) / std::chrono::duration<double>(t_high - t_low).count();
    std::lock_guard lock(mutex_);
    double sum = 0;
    for (double d : served_) sum += d;
    r.served_mean_s = served_.empty() ? 0 : sum / served_.size();
    r.ideal_per_min = 60.0 * parallel / latency_.mean();
    return r;
  }

 private:
  adrs::test::FakeReply reply() {
    std::lock_guard lock(mutex_);
    adrs::test::FakeReply r = adrs::test::FakeReply::answer(masker_answer(next_answer_++));
    if (delay_) {
      std::lognormal_distribution<double> d(std::log(latency_.median()), latency_.sigma());
      r.delay_s = d(rng_);
      served_.push_back(r.delay_s);
    }
    return r;
  }

  std::string adrs_, dir_;
  Latency latency_;
  adrs::test::FakeLlmServer server_;
  std::mutex mutex_;
  int next_answer_ = 0;
  bool delay_ = false;
  std::vector<double> served_;
  std::mt19937_64 rng_;
};

std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) out.push_back(item);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  Latency latency;
  std::string parallels = "2,8,32", schedules = "async,deterministic", json_path, dir = "/tmp/adrs-async-bench";
  std::string adrs = (fs::canonical("/proc/self/exe").parent_path() / "adrs").string();
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--scale") latency.scale = std::stod(value);
    else if (flag == "--parallel") parallels = value;
    else if (flag == "--schedules") schedules = value;
    else if (flag == "--out") dir = value;
    else if (flag == "--json") json_path = value;
    else if (flag == "--adrs") adrs = value;
    else {
      std::fprintf(stderr, "unknown flag %s; flags: --scale --parallel --schedules --out --json --adrs\n", flag.c_str());
      return 2;
    }
  }
  ::setenv("ADRS_BENCH_KEY", "loopback-no-secret", 1);
  fs::create_directories(dir);
  Bench bench(adrs, dir, latency);
  // The budget gives each run about 25 ideal mean latencies of work (at least 40 candidates).
  auto budget_of = [](int parallel) { return std::max(40, parallel * 8); };
  int most = 0;
  for (const std::string& p : split(parallels)) most = std::max(most, budget_of(std::stoi(p)));
  std::printf("latency: log-normal, median %.2f s, p99 %.2f s, mean %.2f s (scale %.3g of 10 s / 90 s)\n", latency.median(),
              latency.median() * 9, latency.mean(), latency.scale);
  std::printf("warm-up: compiling %d answers into %s/cache\n", most + 64, dir.c_str());
  std::fflush(stdout);
  bench.run("async", 8, most + 64, false);
  nlohmann::json out = nlohmann::json::array();
  std::printf("%-14s %8s %7s %14s %14s %9s %13s\n", "schedule", "parallel", "budget", "cand/min", "ideal/min", "ratio", "served mean s");
  for (const std::string& schedule : split(schedules))
    for (const std::string& p : split(parallels)) {
      const int parallel = std::stoi(p);
      const Result r = bench.run(schedule, parallel, budget_of(parallel), true);
      std::printf("%-14s %8d %7d %14.1f %14.1f %9.3f %13.2f%s\n", r.schedule.c_str(), r.parallel, r.budget, r.rate_per_min,
                  r.ideal_per_min, r.rate_per_min / r.ideal_per_min, r.served_mean_s, r.exit_code ? "  (adrs failed: see the log)" : "");
      std::fflush(stdout);
      out.push_back({{"schedule", r.schedule}, {"parallel", r.parallel}, {"budget", r.budget}, {"per_min", r.rate_per_min},
                     {"ideal_per_min", r.ideal_per_min}, {"served_mean_s", r.served_mean_s}, {"exit_code", r.exit_code}});
    }
  if (!json_path.empty()) std::ofstream(json_path) << out.dump(2) << "\n";
  return 0;
}

// adrs status | best | show | lineage | export: read a run's database. They only read, so they
// work while another process runs the run (WAL mode).
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>

#include <fmt/format.h>

#include "driver/cli/commands.h"
#include "driver/run/heldout.h"
#include "driver/run/run_hints.h"
#include "driver/run/run_report.h"
#include "driver/run/run_session.h"
#include "util/table.h"
#include "driver/cli/transcript.h"
#include "driver/patch/text_diff.h"
#include "evaluator/compiler.h"

namespace adrs {

namespace {

struct InspectArgs {
  std::string run_dir;
  int64_t id = 0;
  int top = 10;
  bool json = false, diff = false, source = false, all = false, prompt = false, heldout = false, transcript = false;
  std::string output;
};

std::string opt(const std::optional<double>& v, fmt::format_string<double> pattern) { return v ? fmt::format(pattern, double{*v}) : "-"; }

nlohmann::json row_json(const CandidateRow& r, bool with_source) {
  auto o = [](const auto& v) { return v ? nlohmann::json(*v) : nlohmann::json(); };
  nlohmann::json j = {{"id", r.id}, {"parent", o(r.parent_id)}, {"second_parent", o(r.second_parent_id)},
                      {"duplicate_of", o(r.duplicate_of)}, {"island", r.island}, {"generation", r.generation},
                      {"mutation", r.mutation}, {"status", candidate_status_name(r.status)}, {"failure", r.failure}, {"message", r.message},
                      {"score", o(r.score)}, {"error", o(r.error)}, {"density", o(r.density)}, {"score_std", o(r.score_std)},
                      {"error_std", o(r.error_std)}, {"stage1_score", o(r.stage1_score)}, {"source_hash", r.source_hash},
                      {"behavior_hash", r.behavior_hash},
                      {"access_density", o(r.access_density)}, {"cost_usd", r.cost_usd}, {"tokens_in", r.tokens_in}, {"tokens_out", r.tokens_out}, {"attempts", r.attempts},
                      {"created_at", r.created_at}, {"finished_at", r.finished_at},
                      {"timings", {{"proposal_s", r.proposal_s}, {"check_s", r.check_s}, {"compile_s", r.compile_s},
                                   {"worker_s", r.worker_s}, {"metrics_s", r.metrics_s}, {"db_s", r.db_s}}}};
  j["settings"] = nlohmann::json::array();
  for (const SettingResult& s : r.settings)
    j["settings"].push_back({{"setting", s.setting}, {"workload", s.workload}, {"target_density", s.target_density},
                             {"weight", s.weight}, {"track", s.track}, {"score", s.score}, {"score_std", s.score_std},
                             {"error", s.error}, {"density", s.density}, {"access_density", o(s.access_density)}});
  if (with_source) {
    j["source"] = r.source;
    j["compile_log"] = r.compile_log;
    j["metrics"] = r.metrics_json.empty() ? nlohmann::json() : nlohmann::json::parse(r.metrics_json, nullptr, false);
  }
  return j;
}

// Opens the run and fetches one candidate, resolving nothing.
int open_candidate(const char* command, const InspectArgs& a, std::unique_ptr<RunDb>* db, CandidateRow* row) {
  if (Status s = open_run_for_reading(a.run_dir, db); !s.ok()) return fail(command, s.message());
  // Only a missing row is "no candidate"; a storage error keeps SQLite's words and the file.
  if (Status s = (*db)->get_candidate(a.id, row); !s.ok())
    return fail(command, s.is(StatusCode::kNotFound)
                             ? "no candidate " + std::to_string(a.id) + " in " + a.run_dir + " (adrs best " + a.run_dir + " lists them)"
                             : s.message());
  return 0;
}

int run_status(const InspectArgs& a) {
  std::unique_ptr<RunDb> db;
  if (Status s = open_run_for_reading(a.run_dir, &db); !s.ok()) return fail("status", s.message());
  nlohmann::json summary;
  if (Status s = run_summary(*db, a.run_dir, &summary); !s.ok()) return fail("status", s.message());
  if (a.json) {
    nlohmann::json events;
    if (Status s = db->list_events(&events); !s.ok()) return fail("status", s.message());
    summary["events"] = events;
    std::printf("%s\n", summary.dump(2).c_str());
  } else {
    print_run_summary(summary);
  }
  return 0;
}

// best --heldout: the top K's selection scores beside their held-out scores and intervals.
int print_best_heldout(const InspectArgs& a, const RunDb& db) {
  RunConfig config;
  nlohmann::json heldout;
  if (Status s = stored_config(db, &config); !s.ok()) return fail("best", s.message());
  if (Status s = heldout_summary(db, config, &heldout); !s.ok()) return fail("best", s.message());
  if (heldout.is_null())
    return fail("best", a.run_dir + " has no held-out settings (evaluation.heldout); adrs replay RUN ID --workload W scores one candidate elsewhere");
  if (a.json) std::printf("%s\n", heldout.dump(2).c_str());
  else print_heldout_summary(heldout);
  return 0;
}

int run_best(const InspectArgs& a) {
  std::unique_ptr<RunDb> db;
  if (Status s = open_run_for_reading(a.run_dir, &db); !s.ok()) return fail("best", s.message());
  if (a.heldout) return print_best_heldout(a, *db);
  std::vector<CandidateRow> rows;
  if (Status s = db->list_candidates(&rows, false); !s.ok()) return fail("best", s.message());
  std::map<int64_t, std::vector<SettingResult>> settings;
  if (Status s = db->list_setting_results("selection", &settings); !s.ok()) return fail("best", s.message());
  for (CandidateRow& r : rows) r.settings = settings[r.id];
  std::vector<const CandidateRow*> ranked;
  for (const CandidateRow& r : rows)
    if (a.all || (r.status == CandidateStatus::kEvaluated && r.score)) ranked.push_back(&r);
  std::stable_sort(ranked.begin(), ranked.end(), [](const CandidateRow* x, const CandidateRow* y) {
    return x->score.value_or(-INFINITY) > y->score.value_or(-INFINITY);
  });
  if (a.top > 0 && static_cast<int>(ranked.size()) > a.top) ranked.resize(a.top);
  if (a.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const CandidateRow* r : ranked) out.push_back(row_json(*r, false));
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  // With a suite of several settings, each setting's score gets a column.
  std::vector<std::string> setting_keys;
  for (const CandidateRow* r : ranked)
    if (r->settings.size() > 1 && setting_keys.empty())
      for (const SettingResult& s : r->settings) setting_keys.push_back(s.setting);
  std::vector<std::string> head = {"id", "generation", "parent", "island", "mutation", "score", "std", "error", "density"};
  for (const std::string& k : setting_keys) head.push_back(k);
  head.push_back("status");
  Table t(head);
  for (const CandidateRow* r : ranked) {
    std::vector<std::string> cells = {std::to_string(r->id), std::to_string(r->generation), r->parent_id ? std::to_string(*r->parent_id) : "-",
                                      std::to_string(r->island), r->mutation, opt(r->score, "{:.6f}"), opt(r->score_std, "{:.2g}"),
                                      opt(r->error, "{:.6f}"), opt(r->density, "{:.4f}")};
    for (const std::string& k : setting_keys) {
      std::string cell = "-";
      for (const SettingResult& s : r->settings)
        if (s.setting == k) cell = fmt::format("{:.6f}", s.score);
      cells.push_back(cell);
    }
    cells.push_back(candidate_status_name(r->status) + (r->failure.empty() ? "" : " " + r->failure));
    t.add_row(cells);
  }
  std::printf("%s", t.render().c_str());
  if (ranked.empty()) std::printf("(no evaluated candidates yet)\n");
  return 0;
}

// The LLM calls made for one candidate (retries included), in the order they were made.
Status calls_of(const RunDb& db, int64_t id, std::vector<LlmCallRecord>* mine) {
  std::vector<LlmCallRecord> all;
  if (Status s = db.list_llm_calls(&all); !s.ok()) return s;
  for (LlmCallRecord& c : all)
    if (c.candidate_id == id) mine->push_back(std::move(c));
  return Status::Ok();
}

void print_show_json(const InspectArgs& a, const CandidateRow& r, const CandidateRow* parent, const std::vector<LlmCallRecord>& calls,
                     const std::vector<AgentTurnRecord>& turns) {
  nlohmann::json j = row_json(r, true);
  if (parent) j["diff"] = line_diff(parent->source, r.source);
  if (const RunHint hint = hint_of_request(r.request_json); hint.number > 0) j["hint"] = {{"number", hint.number}, {"text", hint.text}};
  j["llm_calls"] = nlohmann::json::array();
  for (const LlmCallRecord& c : calls) {
    nlohmann::json call = {{"model", c.model}, {"status", c.status}, {"tokens_in", c.tokens_in},
                           {"tokens_out", c.tokens_out}, {"cost_usd", c.cost_usd}, {"latency_s", c.latency_s}};
    if (a.prompt) {
      call["prompt"] = c.prompt;
      call["response"] = c.response;
    }
    j["llm_calls"].push_back(call);
  }
  if (a.transcript) j["transcript"] = transcript_json(turns);
  std::printf("%s\n", j.dump(2).c_str());
}

// The candidate's fields as a two-column table.
void print_candidate_fields(const CandidateRow& r, const nlohmann::json& m) {
  Table t({"field", "value"});
  t.add_row({"status", candidate_status_name(r.status) + (r.failure.empty() ? "" : " (" + r.failure + ")")});
  t.add_row({"parent", r.parent_id ? std::to_string(*r.parent_id) : "- (the seed)"});
  if (r.second_parent_id) t.add_row({"second parent", std::to_string(*r.second_parent_id)});
  if (r.duplicate_of) t.add_row({"duplicate of", std::to_string(*r.duplicate_of)});
  t.add_row({"island / generation", std::to_string(r.island) + " / " + std::to_string(r.generation)});
  t.add_row({"mutation", r.mutation});
  if (const RunHint hint = hint_of_request(r.request_json); hint.number > 0)
    t.add_row({"hint", "#" + std::to_string(hint.number) + ": " + hint.text.substr(0, hint.text.find('\n')).substr(0, 100)});
  t.add_row({"score (mean over seeds)", opt(r.score, "{:.6f}") + (r.score_std && *r.score_std > 0 ? " ± " + opt(r.score_std, "{:.2g}") : "")});
  t.add_row({"error", opt(r.error, "{:.6f}")});
  t.add_row({"density", opt(r.density, "{:.4f}")});
  if (m.is_object() && m.contains("row_error"))
    t.add_row({"row error p50 / p90 / max", fmt::format("{:.4f} / {:.4f} / {:.4f}", m["row_error"].value("p50", 0.0),
                                                   m["row_error"].value("p90", 0.0), m["row_error"].value("max", 0.0))});
  if (r.stage1_score) t.add_row({"stage-1 score", opt(r.stage1_score, "{:.6f}")});
  if (r.access_density) t.add_row({"access density (key reads / n)", opt(r.access_density, "{:.4f}")});
  if (!r.behavior_hash.empty()) t.add_row({"behavior fingerprint", r.behavior_hash});
  t.add_row({"seconds: propose/check/compile/worker/metrics/db",
             fmt::format("{:.2f} / {:.3f} / {:.2f} / {:.2f} / {:.3f} / {:.3f} s", r.proposal_s, r.check_s, r.compile_s, r.worker_s, r.metrics_s, r.db_s)});
  if (r.cost_usd > 0) t.add_row({"cost", fmt::format("${:.5f} ({} in, {} out tokens)", r.cost_usd, static_cast<long long>(r.tokens_in), static_cast<long long>(r.tokens_out))});
  std::printf("%s", t.render("  ").c_str());
  if (!r.message.empty()) std::printf("\n  %s\n", r.message.c_str());
  if (r.settings.size() > 1) {
    Table st({"setting", "weight", "score", "std", "error", "density"});
    for (const SettingResult& s : r.settings)
      st.add_row({s.setting, fmt::format("{:g}", s.weight), fmt::format("{:.6f}", s.score), fmt::format("{:.2g}", s.score_std), fmt::format("{:.6f}", s.error),
                  fmt::format("{:.4f}", s.density)});
    std::printf("\n  per setting of the suite (the score is their weighted mean)\n%s", st.render("  ").c_str());
  }
}

// Error by entropy bucket and per evaluation seed, from the stored metrics.
void print_metric_tables(const nlohmann::json& m) {
  if (m.is_object() && m.contains("error_by_entropy")) {
    Table b({"entropy", "rows", "mean error", "density"});
    for (const auto& bucket : m["error_by_entropy"])
      b.add_row({fmt::format("{:.1f}-{:.1f}", bucket.value("entropy_low", 0.0), bucket.value("entropy_high", 0.0)), std::to_string(bucket.value("rows", 0)),
                 fmt::format("{:.4f}", bucket.value("mean_error", 0.0)), fmt::format("{:.4f}", bucket.value("mean_density", 0.0))});
    std::printf("\n  error by normalized entropy of the true attention\n%s", b.render("  ").c_str());
  }
  if (m.is_object() && m.contains("per_seed") && m["per_seed"].size() > 1) {
    Table s({"seed", "score", "error", "density"});
    for (const auto& p : m["per_seed"])
      s.add_row({std::to_string(p.value("seed", uint64_t{0})), fmt::format("{:.6f}", p.value("score", 0.0)),
                 fmt::format("{:.6f}", p.value("error", 0.0)), fmt::format("{:.4f}", p.value("density", 0.0))});
    std::printf("\n  per evaluation seed\n%s", s.render("  ").c_str());
  }
}

void print_llm_calls(const InspectArgs& a, const std::vector<LlmCallRecord>& calls, const std::vector<AgentTurnRecord>& turns) {
  if (!calls.empty()) {
    Table c({"llm call", "model", "status", "tokens in", "tokens out", "cost", "latency"});
    for (size_t i = 0; i < calls.size(); ++i)
      c.add_row({std::to_string(i + 1), calls[i].model, calls[i].status, std::to_string(calls[i].tokens_in),
                 std::to_string(calls[i].tokens_out), fmt::format("${:.5f}", calls[i].cost_usd), fmt::format("{:.2f} s", calls[i].latency_s)});
    std::printf("\n%s", c.render("  ").c_str());
    if (!a.prompt) std::printf("  (--prompt prints the exact prompts and answers)\n");
  }
  if (!turns.empty() && !a.transcript) std::printf("  %s (--transcript prints every turn)\n", transcript_summary(turns).c_str());
  if (a.transcript) std::printf("%s", transcript_text(turns, a.prompt).c_str());
  if (a.prompt) {
    if (calls.empty()) std::printf("\n(no LLM call was made for this candidate)\n");
    for (size_t i = 0; i < calls.size(); ++i)
      std::printf("\n===== llm call %zu: prompt =====\n%s\n===== llm call %zu: answer =====\n%s\n", i + 1,
                  calls[i].prompt.c_str(), i + 1, calls[i].response.c_str());
  }
}

int run_show(const InspectArgs& a) {
  std::unique_ptr<RunDb> db;
  CandidateRow r;
  if (int rc = open_candidate("show", a, &db, &r)) return rc;
  CandidateRow parent;
  const bool has_parent = r.parent_id.has_value();
  if (has_parent)
    if (Status s = db->get_candidate(*r.parent_id, &parent); !s.ok()) return fail("show", s.message());
  std::vector<LlmCallRecord> calls;
  if (Status s = calls_of(*db, r.id, &calls); !s.ok()) return fail("show", s.message());
  std::vector<AgentTurnRecord> turns;
  if (Status s = db->list_agent_turns(r.id, &turns); !s.ok()) return fail("show", s.message());
  if (a.json) {
    print_show_json(a, r, has_parent ? &parent : nullptr, calls, turns);
    return 0;
  }
  std::printf("candidate %lld of %s\n", static_cast<long long>(r.id), a.run_dir.c_str());
  const nlohmann::json m = r.metrics_json.empty() ? nlohmann::json() : nlohmann::json::parse(r.metrics_json, nullptr, false);
  print_candidate_fields(r, m);
  print_metric_tables(m);
  if (!r.compile_log.empty() && r.status == CandidateStatus::kFailed) std::printf("\ncompiler output:\n%s\n", trim_compiler_log(r.compile_log, 30).c_str());
  print_llm_calls(a, calls, turns);
  if (a.diff && has_parent) {
    const std::string d = line_diff(parent.source, r.source);
    std::printf("\ndiff against parent %lld:\n%s", static_cast<long long>(parent.id), d.empty() ? "(identical)\n" : d.c_str());
  } else if (a.diff) {
    std::printf("\n(the seed has no parent to diff against)\n");
  }
  if (a.source) std::printf("\n%s", r.source.c_str());
  return 0;
}

int run_lineage(const InspectArgs& a) {
  std::unique_ptr<RunDb> db;
  CandidateRow r;
  if (int rc = open_candidate("lineage", a, &db, &r)) return rc;
  std::vector<CandidateRow> chain{r};
  while (chain.back().parent_id && chain.size() < 100000) {
    CandidateRow parent;
    if (Status s = db->get_candidate(*chain.back().parent_id, &parent); !s.ok()) return fail("lineage", s.message());
    chain.push_back(parent);
  }
  std::reverse(chain.begin(), chain.end());
  if (a.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const CandidateRow& c : chain) out.push_back(row_json(c, false));
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  Table t({"id", "generation", "mutation", "score", "error", "density", "change"});
  for (const CandidateRow& c : chain)
    t.add_row({std::to_string(c.id), std::to_string(c.generation), c.mutation, opt(c.score, "{:.6f}"), opt(c.error, "{:.6f}"),
               opt(c.density, "{:.4f}"), c.message.substr(0, 70)});
  std::printf("lineage of candidate %lld, from the seed:\n%s", static_cast<long long>(r.id), t.render("  ").c_str());
  return 0;
}

int run_export(const InspectArgs& a) {
  std::unique_ptr<RunDb> db;
  CandidateRow r;
  if (int rc = open_candidate("export", a, &db, &r)) return rc;
  if (r.source.empty()) return fail("export", "candidate " + std::to_string(r.id) + " has no source yet (status " + candidate_status_name(r.status) + ")");
  if (a.output.empty() || a.output == "-") {
    if (a.json) std::printf("%s\n", nlohmann::json{{"id", r.id}, {"score", r.score ? nlohmann::json(*r.score) : nlohmann::json()}, {"source", r.source}}.dump(2).c_str());
    else std::fwrite(r.source.data(), 1, r.source.size(), stdout);
    return 0;
  }
  std::ofstream out(a.output, std::ios::binary);
  out << r.source;
  if (!out.flush()) return fail("export", "cannot write " + a.output);
  if (a.json) std::printf("%s\n", nlohmann::json{{"id", r.id}, {"path", a.output}, {"score", r.score ? nlohmann::json(*r.score) : nlohmann::json()}}.dump().c_str());
  else {
    // The same setting as the run, so the suggested eval prints the run's score.
    RunConfig config;
    const std::string setting = stored_config(*db, &config).ok()
                                    ? fmt::format(" --workload {} --target-density {:g} --seed {}", config.workload.c_str(), config.target_density,
                                             static_cast<unsigned long long>(config.eval_seed))
                                    : "";
    std::printf("wrote candidate %lld (score %s) to %s; score it with adrs eval %s%s\n", static_cast<long long>(r.id),
                opt(r.score, "{:.6f}").c_str(), a.output.c_str(), a.output.c_str(), setting.c_str());
  }
  return 0;
}

CLI::App* add(CLI::App& app, const char* name, const char* help, InspectArgs& a, bool with_id) {
  CLI::App* cmd = app.add_subcommand(name, help);
  add_run_argument(cmd, &a.run_dir);
  if (with_id) cmd->add_option("id", a.id, "Candidate id (see adrs best)")->required();
  cmd->add_flag("--json", a.json, "Print JSON instead of tables");
  return cmd;
}

}  // namespace

CommandRunner add_status_command(CLI::App& app) {
  auto a = std::make_shared<InspectArgs>();
  add(app, "status", "Progress of a run, why it stopped, best so far, failures by reason", *a, false);
  return [a] { return run_status(*a); };
}

CommandRunner add_best_command(CLI::App& app) {
  auto a = std::make_shared<InspectArgs>();
  CLI::App* cmd = add(app, "best", "The best candidates of a run", *a, false);
  cmd->add_option("--top", a->top, "How many (0: all)")->capture_default_str();
  cmd->add_flag("--all", a->all, "Include failed, filtered and duplicate candidates");
  cmd->add_flag("--heldout", a->heldout, "The top K's selection scores beside their held-out scores (95% bootstrap intervals) and the best baseline per held-out setting");
  return [a] { return run_best(*a); };
}

CommandRunner add_show_command(CLI::App& app) {
  auto a = std::make_shared<InspectArgs>();
  CLI::App* cmd = add(app, "show", "One candidate: metrics, diagnostics, why it failed, diff, source", *a, true);
  cmd->add_flag("--diff", a->diff, "Show the diff against its parent");
  cmd->add_flag("--source", a->source, "Print its full source");
  cmd->add_flag("--prompt", a->prompt, "Print the exact prompt sent to the LLM and its answer, per call");
  cmd->add_flag("--transcript", a->transcript, "Print the agent proposer's conversation: every turn, tool call and result");
  return [a] { return run_show(*a); };
}

CommandRunner add_lineage_command(CLI::App& app) {
  auto a = std::make_shared<InspectArgs>();
  add(app, "lineage", "The chain from the seed to a candidate, with the score at each step", *a, true);
  return [a] { return run_lineage(*a); };
}

CommandRunner add_export_command(CLI::App& app) {
  auto a = std::make_shared<InspectArgs>();
  CLI::App* cmd = add(app, "export", "Write a candidate's source to a file", *a, true);
  cmd->add_option("-o,--output", a->output, "Output file ('-' or none: standard output)");
  return [a] { return run_export(*a); };
}

}  // namespace adrs

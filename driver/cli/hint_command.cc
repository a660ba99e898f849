// adrs hint RUN "text" | --clear: steer a run, also while another process runs it
// (driver/run/run_hints.h).
#include <cstdio>

#include "driver/cli/commands.h"
#include "driver/run/run_create.h"
#include "driver/run/run_hints.h"
#include "driver/run/run_session.h"

namespace adrs {
namespace {

struct HintArgs {
  std::string run_dir, text;
  bool clear = false, json = false;
};

int fail(const std::string& message) {
  std::fprintf(stderr, "adrs hint: %s\n", message.c_str());
  return 2;
}

int run_hint(const HintArgs& a) {
  if (a.clear == !a.text.empty())
    return fail(a.clear ? "give either a hint text or --clear, not both" : "give the hint text in quotes, or --clear to remove the hint");
  std::unique_ptr<RunDb> probe;  // the clear errors of the inspection commands (no run, not a run)
  if (Status s = open_run_for_reading(a.run_dir, &probe); !s.ok()) return fail(s.message());
  probe.reset();
  // A second writer beside a live run is fine: one transaction, SQLite's busy timeout waits for
  // the run's own write to end. No RunLock: the hint must reach a run that holds it.
  std::unique_ptr<RunDb> db;
  if (Status s = RunDb::Open(run_db_path(a.run_dir), RunDb::Mode::kReadWrite, &db); !s.ok()) return fail(s.message());
  RunHint hint;
  if (a.clear) {
    if (Status s = clear_hint(*db); !s.ok()) return fail(s.message());
  } else if (Status s = add_hint(*db, a.text, &hint); !s.ok()) {
    return fail(s.message());
  }
  const bool live = db->state("status") == "running";
  if (a.json) {
    std::printf("%s\n", nlohmann::json({{"run_dir", a.run_dir}, {"hint", hint.number > 0 ? nlohmann::json({{"number", hint.number}, {"text", hint.text}}) : nlohmann::json()}}).dump(2).c_str());
    return 0;
  }
  const std::string when = live ? "from the next candidate the run selects" : "when the run is resumed (adrs resume " + a.run_dir + ")";
  if (a.clear) std::printf("hint cleared for %s; prompts carry no hint %s\n", a.run_dir.c_str(), when.c_str());
  else std::printf("hint #%d stored in %s; LLM prompts carry it %s until adrs hint %s --clear\n", hint.number, a.run_dir.c_str(),
                   when.c_str(), a.run_dir.c_str());
  return 0;
}

}  // namespace

CommandRunner add_hint_command(CLI::App& app) {
  auto a = std::make_shared<HintArgs>();
  CLI::App* cmd = app.add_subcommand("hint", "Give a run a note that every following LLM prompt carries (also while it runs)");
  add_run_argument(cmd, &a->run_dir);
  cmd->add_option("text", a->text, "The note, in quotes, e.g. \"try sampling the residual keys with weights n_s/b\"");
  cmd->add_flag("--clear", a->clear, "Remove the current hint");
  cmd->add_flag("--json", a->json, "Print the stored hint as JSON");
  cmd->footer("show RUN ID says which hint a candidate saw; the report marks them. The offline proposer ignores hints.");
  return [a] { return run_hint(*a); };
}

}  // namespace adrs

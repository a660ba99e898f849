// adrs report RUN: a self-contained HTML page of a run (driver/report/report_page.h), and with --csv the
// candidates table for notebooks. Reads the run database without writing to it; the baselines'
// scores are cached beside it in report_baselines.json.
#include <cstdio>
#include <fstream>
#include <memory>

#include "driver/cli/commands.h"
#include "driver/report/report_data.h"
#include "driver/report/report_page.h"
#include "driver/run/run_session.h"

namespace adrs {

namespace {

struct ReportArgs {
  std::string run_dir, output, csv, baselines_dir;
  bool no_baselines = false, json = false, quiet = false;
};

bool write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  return static_cast<bool>(out.flush());
}

int run_report(const ReportArgs& a) {
  std::unique_ptr<RunDb> db;
  if (Status s = open_run_for_reading(a.run_dir, &db); !s.ok()) return fail("report", s.message());
  ReportOptions options;
  options.baselines = !a.no_baselines;
  options.progress = !a.quiet;
  options.baselines_dir = a.baselines_dir;
  nlohmann::json data;
  if (Status s = build_report_data(*db, a.run_dir, options, &data); !s.ok()) return fail("report", s.message());
  const std::string html_path = a.output.empty() ? a.run_dir + "/report.html" : a.output;
  if (!write_file(html_path, render_report_page(data)))
    return fail("report", "cannot write " + html_path + " (is the disk full or the folder read-only? pass -o FILE elsewhere)");
  if (!a.csv.empty() && !write_file(a.csv, candidates_csv(data)))
    return fail("report", "cannot write " + a.csv + " (is the disk full or the folder read-only?)");
  if (a.json) {
    nlohmann::json out = {{"report", html_path}, {"candidates", data["candidates"].size()}};
    if (!a.csv.empty()) out["csv"] = a.csv;
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    std::printf("wrote %s (%zu candidates); open it in a browser\n", html_path.c_str(), data["candidates"].size());
    if (!a.csv.empty()) std::printf("wrote %s (the candidates table)\n", a.csv.c_str());
  }
  return 0;
}

}  // namespace

CommandRunner add_report_command(CLI::App& app) {
  auto a = std::make_shared<ReportArgs>();
  CLI::App* cmd = app.add_subcommand("report", "A self-contained HTML page of a run: progress, lineage, baselines, failures, LLM usage");
  add_run_argument(cmd, &a->run_dir);
  cmd->add_option("-o,--output", a->output, "HTML file to write (default: <run>/report.html)");
  cmd->add_option("--csv", a->csv, "Also write the candidates table as CSV to this file");
  cmd->add_flag("--no-baselines", a->no_baselines, "Do not score the baseline maskers at the run's setting");
  cmd->add_option("--baselines", a->baselines_dir, "Folder of baseline maskers (*.cpp); default: the shipped ones");
  cmd->add_flag("--quiet", a->quiet, "No progress lines while scoring the baselines");
  cmd->add_flag("--json", a->json, "Print what was written as JSON");
  cmd->footer("The first report of a run scores the baselines (seconds to a minute); later reports reuse the scores.");
  return [a] { return run_report(*a); };
}

}  // namespace adrs

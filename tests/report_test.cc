// adrs report from outside: the page and the CSV of a real short run, the page loaded in headless
// Chromium (Debian's package) with no console error and every plot drawn, and LLM-written text
// that tries to break out of the page staying inert.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "driver/report/report_page.h"
#include "driver/run/run_db.h"
#include "tests/test_util.h"

namespace adrs {
namespace {

namespace fs = std::filesystem;
using test::run_adrs;

// A script in a candidate's message that must never run in the report.
const char* const kHostileMessage =
    "</script><script>document.body.dataset.pwned='1'</script><img src=x onerror=\"document.body.dataset.pwned='2'\">"
    " & \xff\xfe invalid UTF-8";

class ReportTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string((fs::temp_directory_path() / ("adrs-report-" + std::to_string(::getpid()))).string());
    fs::remove_all(*dir_);
    fs::create_directories(*dir_);
    const auto run = run_adrs("run --config runs/demo.toml --workload smoke --max-candidates 10 --runs-dir " + *dir_ +
                              " --name r --cache-dir " + test::binary_dir() + "/test-cache/report --quiet");
    ASSERT_EQ(run.exit_code, 0) << run.err;
    // Failures of two kinds and a hostile message, so every plot has something to draw.
    std::unique_ptr<RunDb> db;
    ASSERT_TRUE(RunDb::Open(run_dir() + "/run.db", RunDb::Mode::kReadWrite, &db).ok());
    CandidateRow seed;
    ASSERT_TRUE(db->get_candidate(1, &seed).ok());
    for (int i = 0; i < 3; ++i) {
      CandidateRow bad = seed;
      bad.id = 11 + i;
      bad.parent_id = 1;
      bad.generation = 1;
      bad.status = CandidateStatus::kFailed;
      bad.failure = i == 0 ? "compile_error" : "crashed";
      bad.message = kHostileMessage;
      bad.score = bad.error = bad.density = std::nullopt;
      ASSERT_TRUE(db->insert_candidate(bad).ok());
    }
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
  }
  static std::string run_dir() { return *dir_ + "/r"; }
  static std::string* dir_;
};
std::string* ReportTest::dir_ = nullptr;

std::string chromium() {
  for (const char* name : {"chromium", "chromium-browser", "google-chrome"}) {
    const std::string probe = std::string("command -v ") + name + " >/dev/null 2>&1";
    if (std::system(probe.c_str()) == 0) return name;
  }
  return "";
}

TEST_F(ReportTest, WritesOnePageAndTheCandidatesCsv) {
  const std::string html = *dir_ + "/page.html", csv = *dir_ + "/c.csv";
  const auto out = run_adrs("report " + run_dir() + " -o " + html + " --csv " + csv + " --json --quiet");
  ASSERT_EQ(out.exit_code, 0) << out.err;
  const nlohmann::json j = nlohmann::json::parse(out.out);
  EXPECT_EQ(j["candidates"], 13);
  const std::string page = test::read_file(html);
  EXPECT_NE(page.find("id=\"adrs-data\""), std::string::npos);
  for (const char* outside : {"<script src", "<link", "src=\"http", "url(http"})
    EXPECT_EQ(page.find(outside), std::string::npos) << "the page must load nothing from outside: " << outside;
  // The hostile text is in the data, escaped: it can close no element.
  EXPECT_EQ(page.find("</script><script>document.body.dataset.pwned"), std::string::npos);
  EXPECT_NE(page.find("\\u003c/script\\u003e"), std::string::npos);
  const std::string table = test::read_file(csv);
  EXPECT_EQ(table.rfind("id,parent,second_parent,duplicate_of,island,generation,mutation,model,status,failure,score,", 0), 0u);
  int lines = 0;
  for (char c : table) lines += c == '\n';
  EXPECT_GE(lines, 14) << "a header and 13 candidates (quoted messages may add lines)";
  EXPECT_NE(table.find("\"</script><script>document.body.dataset.pwned='1'</script><img src=x onerror=\"\"document"),
            std::string::npos)
      << "quotes in a CSV field are doubled";
}

TEST_F(ReportTest, ScoresTheBaselinesOnceAndReusesThem) {
  fs::remove(run_dir() + "/report_baselines.json");  // an earlier test may have made it
  const auto first = run_adrs("report " + run_dir() + " -o " + *dir_ + "/a.html");
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_NE(first.err.find("scoring"), std::string::npos) << first.err;
  ASSERT_TRUE(fs::exists(run_dir() + "/report_baselines.json"));
  const auto second = run_adrs("report " + run_dir() + " -o " + *dir_ + "/b.html");
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ(second.err.find("scoring"), std::string::npos) << "the cached scores are reused: " << second.err;
  const std::string page = test::read_file(*dir_ + "/b.html");
  EXPECT_NE(page.find("\"baseline\":\"oracle_topk\""), std::string::npos);
  // status names the best baseline the report scored, the gap to it, and the report command.
  const auto status = run_adrs("status " + run_dir() + " --json");
  ASSERT_EQ(status.exit_code, 0) << status.err;
  const nlohmann::json j = nlohmann::json::parse(status.out);
  ASSERT_TRUE(j["best_baseline"].is_object()) << status.out;
  EXPECT_NEAR(j["gap_to_best_baseline"].get<double>(),
              j["best"]["score"].get<double>() - j["best_baseline"]["score"].get<double>(), 1e-12);
  EXPECT_NE(j["report"].get<std::string>().find(" report " + run_dir()), std::string::npos);
  const auto human = run_adrs("status " + run_dir());
  EXPECT_NE(human.out.find("best baseline at this setting"), std::string::npos) << human.out;
}

TEST_F(ReportTest, OpensInHeadlessChromiumWithEveryPlotDrawnAndNoConsoleError) {
  const std::string browser = chromium();
  if (browser.empty()) GTEST_SKIP() << "no chromium on this machine (scripts/setup.sh installs Debian's chromium)";
  const std::string html = *dir_ + "/page.html";
  const auto out = run_adrs("report " + run_dir() + " -o " + html + " --quiet");
  ASSERT_EQ(out.exit_code, 0) << out.err;
  const std::string flags = " --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --enable-logging=stderr --v=0 "
                            "--virtual-time-budget=8000 --user-data-dir=" + *dir_ + "/profile ";
  const std::string dom = *dir_ + "/dom.html", log = *dir_ + "/chromium.log", shot = *dir_ + "/report.png";
  ASSERT_EQ(std::system(("timeout 120 " + browser + flags + "--dump-dom file://" + html + " >" + dom + " 2>" + log).c_str()), 0)
      << test::read_file(log);
  const std::string page = test::read_file(dom), console = test::read_file(log);
  EXPECT_NE(page.find("data-rendered=\"1\""), std::string::npos) << "the script did not finish";
  EXPECT_NE(page.find("data-errors=\"0\""), std::string::npos) << page.substr(0, 2000);
  EXPECT_EQ(page.find("data-pwned"), std::string::npos) << "text from a candidate ran as script";
  EXPECT_EQ(console.find("CONSOLE"), std::string::npos) << console;
  for (const char* plot : {"plot-progress", "plot-lineage", "plot-scatter", "plot-failures"}) {
    const std::regex drawn(std::string("id=\"") + plot + "\"[^>]*>\\s*<svg[^>]*data-points=\"([0-9]+)\"");
    std::smatch m;
    ASSERT_TRUE(std::regex_search(page, m, drawn)) << plot << " has no SVG";
    EXPECT_GT(std::stoi(m[1]), 0) << plot << " is empty";
  }
  EXPECT_NE(page.find("Candidate #"), std::string::npos) << "the best candidate's details are shown";
  ASSERT_EQ(std::system(("timeout 120 " + browser + flags + "--window-size=1400,2800 --screenshot=" + shot + " file://" + html +
                         " >/dev/null 2>>" + log).c_str()),
            0);
  EXPECT_GT(fs::file_size(shot), 20000u) << "the screenshot is blank";
}

TEST(ReportPage, JsonInTheScriptElementEscapesMarkupAndInvalidUtf8) {
  const nlohmann::json data = {{"text", std::string("a</script>&<b>\xff")}};
  const std::string safe = json_for_script(data);
  EXPECT_EQ(safe.find('<'), std::string::npos);
  EXPECT_EQ(safe.find('>'), std::string::npos);
  EXPECT_EQ(safe.find('&'), std::string::npos);
  const nlohmann::json back = nlohmann::json::parse(safe);
  EXPECT_EQ(back["text"].get<std::string>().rfind("a</script>&<b>", 0), 0u);
}

TEST(ReportCli, NamesAMissingRunPlainly) {
  const auto out = run_adrs("report /nonexistent/run");
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_NE(out.err.find("adrs report:"), std::string::npos) << out.err;
}

}  // namespace
}  // namespace adrs

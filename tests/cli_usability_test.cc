// What a tired user types: a config run from another directory, bare run names, typos in
// commands, flags and TOML keys, a misspelt workload, hints given to a running run, NO_COLOR.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "driver/run/run_db.h"
#include "tests/test_util.h"

namespace adrs {
namespace {

namespace fs = std::filesystem;

class CliUsabilityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (fs::temp_directory_path() / ("adrs-ux-" + std::to_string(::getpid()) + "-" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name())).string();
    fs::remove_all(dir_);
    fs::create_directories(dir_ + "/elsewhere");
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Runs adrs in `cwd` (dir_ when empty) with extra environment `env` ("NO_COLOR=1 ").
  test::CommandOutput adrs_in(const std::string& cwd, const std::string& args, const std::string& env = "") const {
    const std::string out = dir_ + "/.out", err = dir_ + "/.err";
    const std::string command = "cd " + (cwd.empty() ? dir_ : cwd) + " && " + env + "ADRS_CACHE_DIR=" + test::binary_dir() +
                                "/test-cache " + test::binary_dir() + "/adrs " + args + " >" + out + " 2>" + err + " </dev/null";
    const int status = std::system(command.c_str());
    test::CommandOutput result{WIFEXITED(status) ? WEXITSTATUS(status) : -1, test::read_file(out), test::read_file(err)};
    fs::remove(out);
    fs::remove(err);
    return result;
  }
  std::string quick() const { return " --workload smoke --max-candidates 3 --device cpu --cache-dir " + test::binary_dir() + "/test-cache/ux --quiet"; }
  std::string dir_;
};

TEST_F(CliUsabilityTest, AConfigRunsFromAnyDirectoryWithItsPathsTakenRelativeToTheConfigFile) {
  fs::create_directories(dir_ + "/project/maskers");
  fs::copy_file(test::source_dir() + "/masker_template/evolve_masker.cpp", dir_ + "/project/maskers/mine.cpp");
  std::ofstream(dir_ + "/project/exp.toml") << "[run]\nname = \"exp\"\nseed_masker = \"maskers/mine.cpp\"\n";
  const auto run = adrs_in(dir_ + "/elsewhere", "run --config " + dir_ + "/project/exp.toml" + quick());
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_TRUE(fs::exists(dir_ + "/elsewhere/runs/exp/run.db")) << "runs go to ./runs of the current directory";
  const auto status = adrs_in(dir_ + "/elsewhere", "status exp --json");
  ASSERT_EQ(status.exit_code, 0) << status.err;
}

TEST_F(CliUsabilityTest, WithoutSeedMaskerTheShippedStarterIsUsedFromAnyDirectory) {
  std::ofstream(dir_ + "/bare.toml") << "[run]\nname = \"bare\"\n";
  const auto run = adrs_in(dir_ + "/elsewhere", "run --config ../bare.toml" + quick());
  ASSERT_EQ(run.exit_code, 0) << run.err;
}

TEST_F(CliUsabilityTest, AMissingSeedMaskerNamesTheResolvedPathAndTheRule) {
  std::ofstream(dir_ + "/cfg.toml") << "[run]\nname = \"m\"\nseed_masker = \"nope.cpp\"\n";
  const auto run = adrs_in(dir_ + "/elsewhere", "run --config ../cfg.toml" + quick());
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find(dir_ + "/nope.cpp"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("relative to the file's folder"), std::string::npos) << run.err;
  EXPECT_FALSE(fs::exists(dir_ + "/elsewhere/runs/m"));
}

TEST_F(CliUsabilityTest, EveryCommandTakesABareRunNameAsWellAsAPath) {
  ASSERT_EQ(adrs_in("", "run --name r1" + quick()).exit_code, 0);
  for (const std::string command : {"status", "best", "lineage 1", "export 1", "replay 1", "report"}) {
    const std::string tail = command == "report" ? " --no-baselines --json" : " --json";
    const std::string verb = command.substr(0, command.find(' ')), id = command.find(' ') == std::string::npos ? "" : command.substr(command.find(' '));
    const auto by_name = adrs_in("", verb + " r1" + id + tail);
    const auto by_path = adrs_in("", verb + " runs/r1" + id + tail);
    EXPECT_EQ(by_name.exit_code, 0) << command << ": " << by_name.err;
    EXPECT_EQ(by_name.exit_code, by_path.exit_code) << command;
  }
  EXPECT_EQ(adrs_in("", "show r1 1").exit_code, 0);
  EXPECT_EQ(adrs_in("", "resume r1 --max-candidates 4 --quiet").exit_code, 0);
  const auto missing = adrs_in("", "status r2");
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("runs/r2"), std::string::npos) << missing.err;
  EXPECT_NE(missing.err.find("r1"), std::string::npos) << "the runs that exist are listed: " << missing.err;
}

TEST_F(CliUsabilityTest, TyposInCommandsFlagsAndTomlKeysGetADidYouMean) {
  const auto command = adrs_in("", "statsu r1");
  EXPECT_EQ(command.exit_code, 2);
  EXPECT_NE(command.err.find("did you mean 'status'"), std::string::npos) << command.err;
  for (const std::string flag : {"--max-candidate", "--max_candidates"}) {
    const auto out = adrs_in("", "run " + flag + " 3");
    EXPECT_EQ(out.exit_code, 2) << flag;
    EXPECT_NE(out.err.find("--max-candidates"), std::string::npos) << flag << ": " << out.err;
  }
  std::ofstream(dir_ + "/typo.toml") << "[stop]\nmax_candidate = 3\n";
  const auto key = adrs_in("", "run --config typo.toml");
  EXPECT_EQ(key.exit_code, 2);
  EXPECT_NE(key.err.find("did you mean 'max_candidates'"), std::string::npos) << key.err;
  std::ofstream(dir_ + "/wrong_table.toml") << "[run]\nworkload = \"smoke\"\n";
  const auto table = adrs_in("", "run --config wrong_table.toml");
  EXPECT_NE(table.err.find("belongs in [evaluation]"), std::string::npos) << table.err;
  EXPECT_FALSE(fs::exists(dir_ + "/runs")) << "no refused command made a run folder";
}

TEST_F(CliUsabilityTest, AMisspeltWorkloadLeavesNoRunAndTheFixedCommandThenWorks) {
  const auto bad = adrs_in("", "run --name x --workload defualt --max-candidates 3 --quiet");
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
  EXPECT_NE(bad.err.find("default"), std::string::npos) << bad.err;
  EXPECT_FALSE(fs::exists(dir_ + "/runs/x"));
  EXPECT_EQ(adrs_in("", "run --name x" + quick()).exit_code, 0);
}

TEST_F(CliUsabilityTest, AHintIsStoredAsAnEventCarriedByLaterRequestsAndCleared) {
  ASSERT_EQ(adrs_in("", "run --name h" + quick()).exit_code, 0);
  const auto given = adrs_in("", "hint h \"try sampling the residual keys\"");
  ASSERT_EQ(given.exit_code, 0) << given.err;
  EXPECT_NE(given.out.find("hint #1"), std::string::npos) << given.out;
  ASSERT_EQ(adrs_in("", "resume h --max-candidates 5 --quiet").exit_code, 0);
  ASSERT_EQ(adrs_in("", "hint h --clear").exit_code, 0);
  ASSERT_EQ(adrs_in("", "resume h --max-candidates 6 --quiet --hint \"now widen the window\"").exit_code, 0);
  std::unique_ptr<RunDb> db;
  ASSERT_TRUE(RunDb::Open(dir_ + "/runs/h/run.db", RunDb::Mode::kReadOnly, &db).ok());
  std::vector<CandidateRow> rows;
  ASSERT_TRUE(db->list_candidates(&rows, true).ok());
  ASSERT_EQ(rows.size(), 6u);
  auto hint_of = [](const CandidateRow& r) {
    const nlohmann::json j = nlohmann::json::parse(r.request_json.empty() ? "{}" : r.request_json);
    return j.contains("hint") ? j["hint"]["text"].get<std::string>() : std::string();
  };
  EXPECT_EQ(hint_of(rows[2]), "") << "candidate 3 was made before the hint";
  EXPECT_EQ(hint_of(rows[3]), "try sampling the residual keys");
  EXPECT_EQ(hint_of(rows[4]), "try sampling the residual keys");
  EXPECT_EQ(hint_of(rows[5]), "now widen the window") << "the clear, then the new hint";
  const auto show = adrs_in("", "show h 4 --json");
  EXPECT_EQ(nlohmann::json::parse(show.out, nullptr, false).value("hint", nlohmann::json())["number"], 1) << show.out;
  ASSERT_EQ(adrs_in("", "report h --no-baselines -o h.html --quiet").exit_code, 0);
  EXPECT_NE(test::read_file(dir_ + "/h.html").find("#1: try sampling the residual keys"), std::string::npos)
      << "the report names the hint a candidate saw";
  EXPECT_EQ(adrs_in("", "hint h \"\"").exit_code, 2) << "an empty hint is refused";
  EXPECT_EQ(adrs_in("", "hint nope \"x\"").exit_code, 2);
}

TEST_F(CliUsabilityTest, NoColorDumbTerminalsAndPipesGetNoEscapeCodes) {
  // On a terminal (script(1) gives the run a pseudo-terminal) the log has colours; NO_COLOR and
  // TERM=dumb take them away, and so does a pipe.
  const std::string small = " --workload smoke --max-candidates 3 --device cpu --cache-dir " + test::binary_dir() + "/test-cache/ux";
  auto on_terminal = [&](const std::string& env, const std::string& name) {
    const std::string inner = env + "ADRS_CACHE_DIR=" + test::binary_dir() + "/test-cache " + test::binary_dir() + "/adrs run --name " + name + small;
    return adrs_in("", "--version >/dev/null && script -qec '" + inner + "' /dev/null");
  };
  const auto colour = on_terminal("TERM=xterm ", "c1");
  ASSERT_EQ(colour.exit_code, 0) << colour.out;
  EXPECT_NE(colour.out.find('\033'), std::string::npos) << "a terminal gets colours: " << colour.out;
  for (const std::string env : {"NO_COLOR=1 TERM=xterm ", "TERM=dumb "}) {
    const auto plain = on_terminal(env, "c" + std::to_string(env.size()));
    EXPECT_EQ(plain.exit_code, 0) << plain.out;
    EXPECT_EQ(plain.out.find('\033'), std::string::npos) << env << ": " << plain.out;
  }
  const auto piped = adrs_in("", "run --name c9" + small, "TERM=xterm ");
  EXPECT_EQ(piped.exit_code, 0) << piped.err;
  EXPECT_EQ((piped.out + piped.err).find('\033'), std::string::npos) << piped.err;
}

TEST_F(CliUsabilityTest, CompileErrorsNameTheUsersFileNotTheJailsMaskerCpp) {
  std::string source = test::read_file(test::source_dir() + "/masker_template/evolve_masker.cpp");
  source.insert(source.find("// EVOLVE-BLOCK-END"), "int broken = ;\n");
  std::ofstream(dir_ + "/my_masker.cpp") << source;
  const auto eval = adrs_in("", "eval my_masker.cpp --workload smoke --device cpu");
  EXPECT_EQ(eval.exit_code, 1);
  EXPECT_NE(eval.out.find("my_masker.cpp:"), std::string::npos) << eval.out;
  EXPECT_EQ(eval.out.find(" masker.cpp:"), std::string::npos) << eval.out;
  const auto run = adrs_in("", "run --name broken --seed-masker my_masker.cpp" + quick());
  EXPECT_NE(run.exit_code, 0);
  EXPECT_NE(run.err.find("my_masker.cpp:"), std::string::npos) << run.err;
  EXPECT_FALSE(fs::exists(dir_ + "/runs/broken"));
}

TEST_F(CliUsabilityTest, VersionNamesTheReleaseAndTheGitRevision) {
  const auto out = adrs_in("", "--version");
  EXPECT_EQ(out.exit_code, 0);
  EXPECT_EQ(out.out.rfind("adrs 0.", 0), 0u) << out.out;
  EXPECT_NE(out.out.find("(git "), std::string::npos) << out.out;
}

TEST_F(CliUsabilityTest, InitMakesAProjectFolderWhoseConfigRunsFromAnywhereAndNeverWritesIntoAFullFolder) {
  const auto init = adrs_in("", "init proj");
  ASSERT_EQ(init.exit_code, 0) << init.err;
  EXPECT_NE(init.out.find("run --config adrs.toml"), std::string::npos) << init.out;
  for (const char* file : {"proj/adrs.toml", "proj/masker.cpp", "proj/prompts/system.txt"})
    EXPECT_TRUE(fs::is_regular_file(dir_ + "/" + file)) << file;
  EXPECT_EQ(test::read_file(dir_ + "/proj/masker.cpp"), test::read_file(test::source_dir() + "/masker_template/evolve_masker.cpp"));
  // The config names the folder's masker relative to itself: it runs from another directory.
  const auto run = adrs_in(dir_ + "/elsewhere", "run --config " + dir_ + "/proj/adrs.toml" + quick());
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_TRUE(fs::exists(dir_ + "/elsewhere/runs/my-run/run.db"));
  // A second init into the same folder changes nothing and says why.
  std::ofstream(dir_ + "/proj/masker.cpp") << "// mine\n";
  const auto again = adrs_in("", "init proj");
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_NE(again.err.find("not an empty folder"), std::string::npos) << again.err;
  EXPECT_EQ(test::read_file(dir_ + "/proj/masker.cpp"), "// mine\n");
}

}  // namespace
}  // namespace adrs

// RunConfig: the key table (every key type parses its text or names what is wrong), the TOML
// reader (unknown tables and keys, values that are not scalars, the suite/heldout table form,
// paths relative to the file), validation messages and the JSON round trip resume relies on.
#include "driver/run/run_config.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace adrs {
namespace {

namespace fs = std::filesystem;

const ConfigKey& key(const std::string& section, const std::string& name) {
  for (const ConfigKey& k : config_keys())
    if (k.section == section && k.name == name) return k;
  ADD_FAILURE() << "no key " << section << "." << name;
  return config_keys().front();
}

// Sets one key from its flag text; returns the error message ("" when accepted).
std::string set_text(RunConfig* config, const std::string& section, const std::string& name, const std::string& text) {
  const Status s = key(section, name).set(*config, text);
  return s.ok() ? "" : s.message();
}

class ConfigFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("adrs-run-config-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Writes `toml` to <dir>/run.toml and loads it over the defaults.
  Status load(const std::string& toml, RunConfig* config) {
    path_ = (dir_ / "run.toml").string();
    std::ofstream(path_) << toml;
    return load_config_file(path_, config);
  }

  fs::path dir_;
  std::string path_;
};

TEST(ConfigKeys, FlagsAreTheKeyNamesWithDashes) {
  EXPECT_EQ(key("search", "migration_interval").flag(), "--migration-interval");
  EXPECT_EQ(key("run", "seed").flag(), "--seed");
}

TEST(ConfigKeys, IntegerKeysTakePlainDigitsOnly) {
  RunConfig c;
  EXPECT_EQ(set_text(&c, "search", "islands", "4"), "");
  EXPECT_EQ(c.islands, 4);
  EXPECT_EQ(set_text(&c, "search", "islands", "4x"), "'4x' is not an integer (write it in plain digits, e.g. 8)");
  EXPECT_EQ(set_text(&c, "search", "islands", "1e3"), "'1e3' is not an integer (write it in plain digits, e.g. 8)");
  EXPECT_EQ(set_text(&c, "search", "islands", "-"), "'-' is not an integer (write it in plain digits, e.g. 8)");
  EXPECT_EQ(c.islands, 4);  // a rejected value leaves the key as it was
}

TEST(ConfigKeys, IntegersThatDoNotFitTheKeyAreOutOfRangeNotWrapped) {
  RunConfig c;
  EXPECT_EQ(set_text(&c, "search", "islands", "4294967298"), "'4294967298' is out of range (-2147483648..2147483647)");
  EXPECT_EQ(set_text(&c, "run", "seed", "-1"), "'-1' is out of range (0..18446744073709551615)");
  EXPECT_EQ(set_text(&c, "run", "seed", "18446744073709551616"), "'18446744073709551616' is out of range (0..18446744073709551615)");
  EXPECT_EQ(set_text(&c, "run", "seed", "18446744073709551615"), "");
  EXPECT_EQ(c.seed, 18446744073709551615ull);
}

TEST(ConfigKeys, RealKeysRejectTextAndInfinityAndTakeNoneAsNoValue) {
  RunConfig c;
  EXPECT_EQ(set_text(&c, "evaluation", "target_density", "0.25"), "");
  EXPECT_DOUBLE_EQ(c.target_density, 0.25);
  EXPECT_EQ(set_text(&c, "evaluation", "target_density", "a lot"), "'a lot' is not a number");
  EXPECT_EQ(set_text(&c, "evaluation", "target_density", ""), "'' is not a number");
  EXPECT_EQ(set_text(&c, "stop", "max_cost", "inf"), "'inf' is out of range (use a finite number, or none)");
  EXPECT_EQ(set_text(&c, "stop", "max_cost", "1e400"), "'1e400' is out of range (use a finite number, or none)");
  EXPECT_EQ(set_text(&c, "stop", "target_score", "none"), "");
  EXPECT_TRUE(std::isnan(c.target_score));
  EXPECT_EQ(key("stop", "target_score").get(c), nlohmann::json("none"));
}

TEST(ConfigKeys, BooleanKeysTakeTrueFalseYesNoOneZero) {
  RunConfig c;
  for (const char* yes : {"true", "yes", "1"}) {
    c.cascade = false;
    EXPECT_EQ(set_text(&c, "evaluation", "cascade", yes), "");
    EXPECT_TRUE(c.cascade) << yes;
  }
  for (const char* no : {"false", "no", "0"}) {
    c.cascade = true;
    EXPECT_EQ(set_text(&c, "evaluation", "cascade", no), "");
    EXPECT_FALSE(c.cascade) << no;
  }
  EXPECT_EQ(set_text(&c, "evaluation", "cascade", "maybe"), "'maybe' is not true or false");
}

TEST(ConfigKeys, OnlyStopConditionsAndResourceLimitsChangeOnResume) {
  EXPECT_TRUE(key("stop", "max_candidates").changeable_on_resume);
  EXPECT_TRUE(key("search", "parallel").changeable_on_resume);
  EXPECT_FALSE(key("search", "islands").changeable_on_resume);
  EXPECT_FALSE(key("evaluation", "workload").changeable_on_resume);
}

TEST_F(ConfigFile, ReadsEveryKindOfValueOverTheDefaults) {
  RunConfig c;
  ASSERT_TRUE(load("[run]\nname = \"demo\"\nseed = 7\n"
                   "[evaluation]\ntarget_density = 0.1\ncascade = true\n"
                   "[search]\nislands = 3\n"
                   "[stop]\ntarget_score = \"none\"\n",
                   &c)
                  .ok());
  EXPECT_EQ(c.name, "demo");
  EXPECT_EQ(c.seed, 7u);
  EXPECT_EQ(c.target_density, 0.1);  // exactly: the file's number goes through 17 digits
  EXPECT_TRUE(c.cascade);
  EXPECT_EQ(c.islands, 3);
  EXPECT_TRUE(std::isnan(c.target_score));
  EXPECT_EQ(c.parallel, RunConfig().parallel);  // not in the file: the default
}

TEST_F(ConfigFile, AnUnknownKeyIsAnErrorThatListsTheTablesKeys) {
  RunConfig c;
  const Status s = load("[search]\nislandz = 3\n", &c);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(path_ + ": unknown key search.islandz"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("search.islandz (did you mean 'islands'?)"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("; keys of [search]: parallel, islands, migration_interval"), std::string::npos) << s.message();
}

TEST_F(ConfigFile, AKeyInTheWrongTableNamesTheRightOne) {
  RunConfig c;
  const Status s = load("[search]\nmax_candidates = 3\n", &c);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("unknown key search.max_candidates (max_candidates belongs in [stop])"), std::string::npos)
      << s.message();
}

TEST_F(ConfigFile, AnUnknownTableIsAnErrorThatListsTheTables) {
  RunConfig c;
  const Status s = load("[serch]\nislands = 3\n", &c);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(path_ + ": unknown table [serch]"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("the tables are [run], [evaluation], [search], [proposer], [stop], [llm]"), std::string::npos)
      << s.message();
}

TEST_F(ConfigFile, ABadValueNamesTheFileTheKeyAndTheProblem) {
  RunConfig c;
  Status s = load("[search]\nislands = \"many\"\n", &c);
  EXPECT_EQ(s.message(), path_ + ": search.islands: 'many' is not an integer (write it in plain digits, e.g. 8)");
  s = load("[search]\nislands = [1, 2]\n", &c);
  EXPECT_EQ(s.message(), path_ + ": search.islands must be a single value (a string, number or boolean)");
}

TEST_F(ConfigFile, ATomlSyntaxErrorNamesTheLine) {
  RunConfig c;
  const Status s = load("[search]\nislands = = 3\n", &c);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message().rfind(path_ + ":2:", 0), 0u) << s.message();
}

TEST_F(ConfigFile, AMissingFileSaysWhereExamplesAre) {
  RunConfig c;
  const Status s = load_config_file((dir_ / "absent.toml").string(), &c);
  EXPECT_EQ(s.message(), "cannot read config " + (dir_ / "absent.toml").string() + " (no such file?); example configs are in runs/*.toml");
}

TEST_F(ConfigFile, TheSuiteTableFormBecomesTheTextFormWorkloadDensityWeight) {
  RunConfig c;
  ASSERT_TRUE(load("[evaluation]\nsuite = [{weight = 2, workload = \"smoke\", target_density = 0.05},\n"
                   "         {workload = \"default\"}]\n"
                   "heldout = [{workload = \"smoke\", target_density = 0.2}]\n",
                   &c)
                  .ok());
  EXPECT_EQ(c.suite, "smoke@0.050000*2.000000,default");
  EXPECT_EQ(c.heldout, "smoke@0.200000");
}

TEST_F(ConfigFile, ASuiteEntryWithoutAWorkloadOrWithAnUnknownFieldIsAnError) {
  RunConfig c;
  Status s = load("[evaluation]\nsuite = [{target_density = 0.05}]\n", &c);
  EXPECT_EQ(s.message(), path_ + ": evaluation.suite every entry needs a workload");
  s = load("[evaluation]\nheldout = [{workload = \"smoke\", density = 0.05}]\n", &c);
  EXPECT_EQ(s.message(), path_ + ": evaluation.heldout unknown or mistyped field 'density' (fields: workload (text), "
                                 "target_density, weight (numbers))");
  s = load("[evaluation]\nsuite = [\"smoke\"]\n", &c);
  EXPECT_EQ(s.message(), path_ + ": evaluation.suite must be an array of tables {workload = \"default\", target_density = 0.1, weight = 1}");
}

TEST_F(ConfigFile, RelativePathsAreTakenBesideTheFile) {
  RunConfig c;
  ASSERT_TRUE(load("[run]\nseed_masker = \"maskers/start.cpp\"\n[evaluation]\ncache_dir = \"/abs/cache\"\n"
                   "[proposer]\nproposer = \"llm\"\n[llm]\nprompts_dir = \"prompts\"\n",
                   &c)
                  .ok());
  EXPECT_EQ(c.seed_masker, (fs::absolute(dir_) / "maskers/start.cpp").lexically_normal().string());
  EXPECT_EQ(c.cache_dir, "/abs/cache");
  EXPECT_EQ(c.llm["prompts_dir"], (fs::absolute(dir_) / "prompts").lexically_normal().string());
}

TEST(ConfigValidate, NamesTheKeyAndItsRange) {
  auto message = [](const std::function<void(RunConfig&)>& change) {
    RunConfig c;
    change(c);
    const Status s = c.validate();
    return s.ok() ? std::string() : s.message();
  };
  EXPECT_EQ(message([](RunConfig&) {}), "");
  EXPECT_EQ(message([](RunConfig& c) { c.target_density = 0; }), "config: evaluation.target_density must be in (0, 1], e.g. 0.1");
  EXPECT_EQ(message([](RunConfig& c) { c.parallel = 0; }), "config: search.parallel must be in 1..256");
  EXPECT_EQ(message([](RunConfig& c) { c.device = "tpu"; }), "config: evaluation.device must be cpu, cuda or auto");
  EXPECT_EQ(message([](RunConfig& c) { c.feature_x = "size"; }),
            "config: search feature 'size' is unknown; choose density, code_length, error or blocks");
  EXPECT_EQ(message([](RunConfig& c) { c.exploit_ratio = 0.8; }), "config: search.exploit_ratio + explore_ratio must be <= 1");
  EXPECT_EQ(message([](RunConfig& c) { c.track = "peek"; }),
            "config: evaluation.track must be oracle (exact scores visible, as in the study) or blind (key reads counted)");
  EXPECT_EQ(message([](RunConfig& c) { c.max_candidates = 0; }), "config: stop.max_candidates must be in 1..1000000000");
  EXPECT_EQ(message([](RunConfig& c) { c.name = "a/b"; }),
            "config: run.name 'a/b' contains '/'; it must be a plain directory name (use --runs-dir for the folder)");
}

TEST(ConfigValidate, AnLlmTableWithTheOfflineProposerIsAnError) {
  RunConfig c;
  c.llm = {{"models", nlohmann::json::array()}};
  const Status s = c.validate();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("proposer.proposer is \"offline\", so no LLM would be called"), std::string::npos) << s.message();
  c.proposer = "llm";
  EXPECT_TRUE(c.validate().ok());
}

TEST(ConfigJson, RoundTripsEveryKeyAndTheLlmTable) {
  RunConfig before;
  before.islands = 5;
  before.target_score = NAN;
  before.suite = "smoke@0.05*2";
  before.llm = {{"models", {{{"name", "m"}}}}};
  RunConfig after;
  ASSERT_TRUE(config_from_json(config_to_json(before), &after).ok());
  EXPECT_TRUE(diff_configs(before, after).empty());
  EXPECT_EQ(after.islands, 5);
  EXPECT_EQ(after.suite, "smoke@0.05*2");
}

TEST(ConfigJson, AMissingKeyKeepsItsDefaultAndABadOneNamesTheKey) {
  RunConfig c;
  ASSERT_TRUE(config_from_json({{"search", {{"islands", 9}}}}, &c).ok());
  EXPECT_EQ(c.islands, 9);
  EXPECT_EQ(c.parallel, RunConfig().parallel);
  const Status s = config_from_json({{"search", {{"islands", "nine"}}}}, &c);
  EXPECT_EQ(s.message(), "stored config search.islands: 'nine' is not an integer (write it in plain digits, e.g. 8)");
  EXPECT_EQ(config_from_json(nlohmann::json::array(), &c).message(), "the stored config is not a JSON object");
}

TEST(ConfigJson, DiffNamesTheKeyBothValuesAndWhetherResumeMayChangeIt) {
  RunConfig before, after;
  after.islands = 4;
  after.max_candidates = 50;
  const std::vector<ConfigDifference> d = diff_configs(before, after);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].key, "search.islands");
  EXPECT_EQ(d[0].before, "2");
  EXPECT_EQ(d[0].after, "4");
  EXPECT_FALSE(d[0].changeable);
  EXPECT_EQ(d[1].key, "stop.max_candidates");
  EXPECT_TRUE(d[1].changeable);
}

}  // namespace
}  // namespace adrs

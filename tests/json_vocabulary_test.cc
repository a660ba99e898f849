// Every command's --json output uses only the keys and types docs/JSON.md lists for it: one
// vocabulary, documented, so scripts and notebooks can rely on it. A new field must be added to
// the document (with its type) or this test fails.
//
// docs/JSON.md holds one ```json-keys block per command: the first line names the command, each
// further line is `path: type [| type]`, where a path joins object keys with '.', writes array
// elements as '[]', and '*' stands for any key of a map (per-model, per-reason tables). Types:
// object, array, string, integer, number (any number), boolean, null.
#include <unistd.h>

#include <filesystem>
#include <map>
#include <set>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/test_util.h"

namespace adrs {
namespace {

namespace fs = std::filesystem;
using Vocabulary = std::map<std::string, std::map<std::string, std::set<std::string>>>;  // command -> path -> types

Vocabulary read_vocabulary() {
  std::istringstream doc(test::read_file(test::source_dir() + "/docs/JSON.md"));
  Vocabulary vocabulary;
  std::string line, command;
  bool inside = false;
  while (std::getline(doc, line)) {
    if (line.rfind("```json-keys", 0) == 0) {
      inside = true;
      command.clear();
      continue;
    }
    if (!inside) continue;
    if (line.rfind("```", 0) == 0) {
      inside = false;
      continue;
    }
    if (command.empty()) {
      command = line;
      continue;
    }
    const size_t colon = line.rfind(": ");
    if (colon == std::string::npos) continue;
    std::istringstream types(line.substr(colon + 2));
    for (std::string t; std::getline(types, t, '|');) {
      t.erase(0, t.find_first_not_of(' '));
      t.erase(t.find_last_not_of(' ') + 1);
      vocabulary[command][line.substr(0, colon)].insert(t);
    }
  }
  return vocabulary;
}

std::string type_of(const nlohmann::json& j) {
  if (j.is_object()) return "object";
  if (j.is_array()) return "array";
  if (j.is_string()) return "string";
  if (j.is_boolean()) return "boolean";
  if (j.is_null()) return "null";
  return j.is_number_integer() || j.is_number_unsigned() ? "integer" : "number";
}

// Checks `j` at `path` against the command's keys; appends problems to `errors`.
void check(const std::map<std::string, std::set<std::string>>& keys, const nlohmann::json& j, const std::string& path,
           std::vector<std::string>* errors) {
  auto documented = [&](const std::string& p) { return keys.count(p) > 0; };
  if (!path.empty()) {
    const auto it = keys.find(path);
    if (it == keys.end()) {
      errors->push_back(path + " (" + type_of(j) + ") is not in docs/JSON.md");
      return;
    }
    const std::string t = type_of(j);
    if (!it->second.count(t) && !(t == "integer" && it->second.count("number")))
      errors->push_back(path + " is " + t + ", docs/JSON.md says " + *it->second.begin());
  }
  const std::string prefix = path.empty() ? "" : path + ".";
  if (j.is_object())
    for (const auto& [key, value] : j.items())
      check(keys, value, documented(prefix + key) || !documented(prefix + "*") ? prefix + key : prefix + "*", errors);
  if (j.is_array())
    for (const nlohmann::json& element : j) check(keys, element, path + "[]", errors);
}

class JsonVocabularyTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = (fs::temp_directory_path() / ("adrs-json-" + std::to_string(::getpid()))).string();
    fs::remove_all(dir_);
    // A held-out setting too, so the held-out block of run and status is checked.
    const auto run = test::run_adrs("run --config runs/demo.toml --workload smoke --heldout smoke@0.05 --heldout-top-k 2 --max-candidates 6 --device cpu --runs-dir " + dir_ +
                                    " --name j --cache-dir " + test::binary_dir() + "/test-cache/json --quiet --json");
    run_out_ = run.out;
    ASSERT_EQ(run.exit_code, 0) << run.err;
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  void expect_documented(const std::string& command, const std::string& output) {
    const Vocabulary vocabulary = read_vocabulary();
    ASSERT_TRUE(vocabulary.count(command)) << "docs/JSON.md has no json-keys block for " << command;
    const nlohmann::json j = nlohmann::json::parse(output, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << command << " printed no JSON: " << output;
    std::vector<std::string> errors;
    check(vocabulary.at(command), j, "", &errors);
    for (const std::string& e : errors) ADD_FAILURE() << command << " --json: " << e;
  }
  static std::string dir_, run_out_;
};
std::string JsonVocabularyTest::dir_, JsonVocabularyTest::run_out_;

TEST_F(JsonVocabularyTest, RunAndStatusUseTheDocumentedKeys) {
  expect_documented("run", run_out_);
  expect_documented("status", test::run_adrs("status " + dir_ + "/j --json").out);
}

TEST_F(JsonVocabularyTest, InspectionCommandsUseTheDocumentedKeys) {
  expect_documented("best", test::run_adrs("best " + dir_ + "/j --all --json").out);
  expect_documented("show", test::run_adrs("show " + dir_ + "/j 2 --json").out);
  expect_documented("lineage", test::run_adrs("lineage " + dir_ + "/j 3 --json").out);
  expect_documented("export", test::run_adrs("export " + dir_ + "/j 2 --json").out);
  expect_documented("hint", test::run_adrs("hint " + dir_ + "/j \"a note\" --json").out);
}

TEST_F(JsonVocabularyTest, EvaluationCommandsUseTheDocumentedKeys) {
  expect_documented("eval", test::run_adrs("eval masker_template/evolve_masker.cpp --workload smoke --device cpu --json").out);
  expect_documented("replay", test::run_adrs("replay " + dir_ + "/j 1 --json").out);
  expect_documented("workload info", test::run_adrs("workload info smoke --json").out);
  expect_documented("leaderboard", test::run_adrs("leaderboard --workload smoke --densities 0.1 --only oracle_topk --json").out);
  expect_documented("report", test::run_adrs("report " + dir_ + "/j --no-baselines -o " + dir_ + "/r.html --json").out);
}

TEST(JsonVocabulary, AnUndocumentedKeyOrAWrongTypeIsReported) {
  const std::map<std::string, std::set<std::string>> keys = {{"id", {"integer"}}, {"models", {"object"}}, {"models.*", {"number"}}};
  std::vector<std::string> errors;
  check(keys, nlohmann::json{{"id", 1}, {"models", {{"gpt", 0.5}}}}, "", &errors);
  EXPECT_TRUE(errors.empty()) << errors.front();
  check(keys, nlohmann::json{{"id", "1"}, {"extra", true}}, "", &errors);
  EXPECT_EQ(errors.size(), 2u);
}

}  // namespace
}  // namespace adrs

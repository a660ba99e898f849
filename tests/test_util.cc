#include "tests/test_util.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

namespace adrs::test {

std::string binary_dir() { return ADRS_BINARY_DIR; }
std::string source_dir() { return ADRS_SOURCE_DIR; }

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::string masker_source(const std::string& name) {
  const std::string path = name.find('/') != std::string::npos ? name : std::string(ADRS_TEST_MASKERS) + "/" + name + ".cpp";
  const std::string text = read_file(path);
  if (text.empty()) ADD_FAILURE() << "no test masker " << path;
  return text;
}

EvalOptions test_options(const std::string& workload) {
  EvalOptions options;
  options.workload = workload;
  options.cache_dir = binary_dir() + "/test-cache";
  options.timeout_s = 60;
  return options;
}

std::unique_ptr<Evaluator> make_evaluator(const EvalOptions& options) {
  std::unique_ptr<Evaluator> evaluator;
  const Status s = Evaluator::Create(options, &evaluator);
  if (!s.ok()) ADD_FAILURE() << s.message();
  return evaluator;
}

CommandOutput run_adrs(const std::string& args) {
  char out_path[] = "/tmp/adrs-test-outXXXXXX";
  char err_path[] = "/tmp/adrs-test-errXXXXXX";
  ::close(::mkstemp(out_path));
  ::close(::mkstemp(err_path));
  const std::string command = "cd " + source_dir() + " && ADRS_CACHE_DIR=" + binary_dir() + "/test-cache " + binary_dir() + "/adrs " + args +
                              " >" + out_path + " 2>" + err_path + " </dev/null";
  const int status = std::system(command.c_str());
  CommandOutput result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.out = read_file(out_path);
  result.err = read_file(err_path);
  ::unlink(out_path);
  ::unlink(err_path);
  return result;
}

}  // namespace adrs::test

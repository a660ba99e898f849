#include "tests/test_util.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

namespace adrs::test {

namespace {

// The synthetic presets' hidden values depend on a per-user secret (random, made on first use).
// Tests compare errors with thresholds, so every test and every adrs process a test starts uses
// one fixed secret in the build tree instead: the same numbers on every machine.
const bool kFixedValueSecret = [] {
  const std::string dir = std::string(ADRS_BINARY_DIR) + "/test-xdg";
  std::error_code ignored;
  std::filesystem::create_directories(dir + "/adrs", ignored);
  const std::string path = dir + "/adrs/value_secret";
  const std::string temp = path + ".tmp." + std::to_string(::getpid());
  const uint64_t secret = 0x5eed5eed5eed5eedULL;
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd >= 0) {
    const bool written = ::write(fd, &secret, sizeof secret) == sizeof secret;
    ::close(fd);
    // rename replaces atomically, so a test process reading it concurrently sees 8 bytes.
    if (!written || ::rename(temp.c_str(), path.c_str()) != 0) ::unlink(temp.c_str());
  }
  ::setenv("XDG_CACHE_HOME", dir.c_str(), 1);
  return true;
}();

}  // namespace

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

std::string text_from_child(const std::function<std::string()>& body, bool* exit_ok) {
  int channel[2];
  if (::pipe2(channel, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe2 failed";
    return "";
  }
  const pid_t child = ::fork();
  if (child == 0) {
    ::close(channel[0]);
    const std::string text = body();
    (void)!::write(channel[1], text.data(), text.size());
    ::_exit(0);
  }
  ::close(channel[1]);
  std::string text;
  char buffer[4096];
  for (ssize_t n; (n = ::read(channel[0], buffer, sizeof buffer)) > 0;) text.append(buffer, static_cast<size_t>(n));
  ::close(channel[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  if (exit_ok) *exit_ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  return text;
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

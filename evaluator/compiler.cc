#include "evaluator/compiler.h"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>

#include "util/hash.h"
#include "util/subprocess.h"

namespace adrs {

namespace fs = std::filesystem;

namespace {

const char* const kFlags[] = {"-std=c++20", "-O2", "-fPIC", "-shared", "-pipe"};

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

bool write_text(const std::string& path, const std::string& text) {
  const std::string temp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(temp, std::ios::binary);
    out << text;
    if (!out.flush()) return false;
  }
  return ::rename(temp.c_str(), path.c_str()) == 0;
}

// The masker compiler: $ADRS_MASKER_CXX or g++, found on PATH.
std::string find_compiler() {
  const char* chosen = std::getenv("ADRS_MASKER_CXX");
  const std::string name = chosen && *chosen ? chosen : "g++";
  if (name.find('/') != std::string::npos) return name;
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');)
    if (!dir.empty() && ::access((dir + "/" + name).c_str(), X_OK) == 0) return dir + "/" + name;
  return "";
}

std::vector<std::string> minimal_env() {
  return {"PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C", "LC_ALL=C"};
}

struct Toolchain {
  std::string compiler;
  std::string version;
  std::string include_dir;
  std::string header;
};

const Toolchain& toolchain(const std::string& scratch) {
  static std::once_flag once;
  static Toolchain t;
  std::call_once(once, [&] {
    t.compiler = find_compiler();
    t.include_dir = masker_include_dir();
    t.header = read_text(t.include_dir + "/masker_api.h");
    if (t.compiler.empty()) return;
    ProcessOptions probe;
    probe.argv = {t.compiler, "--version"};
    probe.env = minimal_env();
    probe.output_path = scratch + "/compiler-version." + std::to_string(::getpid());
    probe.timeout_s = 30;
    run_process(probe);
    const std::string text = read_text(probe.output_path);
    t.version = text.substr(0, text.find('\n'));
    ::unlink(probe.output_path.c_str());
  });
  return t;
}

}  // namespace

std::string default_cache_dir() {
  if (const char* dir = std::getenv("ADRS_CACHE_DIR"); dir && *dir) return dir;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) return std::string(xdg) + "/adrs";
  if (const char* home = std::getenv("HOME"); home && *home) return std::string(home) + "/.cache/adrs";
  return "/tmp/adrs-cache";
}

Status make_directories(const std::string& path) {
  std::error_code error;
  fs::create_directories(path, error);
  if (error) return Status::Error("cannot create directory " + path + ": " + error.message());
  return Status::Ok();
}

std::string masker_include_dir() {
  std::vector<std::string> candidates;
  if (const char* home = std::getenv("ADRS_HOME"); home && *home) candidates.push_back(std::string(home) + "/masker_template");
  const std::string exe = executable_dir();
  candidates.push_back(exe + "/../masker_template");
  candidates.push_back(exe + "/../../masker_template");
#ifdef ADRS_SOURCE_DIR
  candidates.push_back(std::string(ADRS_SOURCE_DIR) + "/masker_template");
#endif
  for (const std::string& dir : candidates)
    if (fs::exists(dir + "/masker_api.h")) return fs::weakly_canonical(dir).string();
  return candidates.back();
}

std::string trim_compiler_log(const std::string& log, int max_lines) {
  std::stringstream in(log);
  std::vector<std::string> errors, others;
  for (std::string line; std::getline(in, line);)
    (line.find("error") != std::string::npos ? errors : others).push_back(line);
  std::string out;
  int count = 0;
  for (const auto* group : {&errors, &others})
    for (const std::string& line : *group)
      if (count++ < max_lines) out += line + "\n";
  if (count > max_lines) out += "... (" + std::to_string(count - max_lines) + " more lines)\n";
  return out;
}

CompileResult compile_masker(const std::string& source, const CompileOptions& options) {
  CompileResult result;
  if (Status s = make_directories(options.cache_dir); !s.ok()) {
    result.message = s.message();
    return result;
  }
  const Toolchain& tc = toolchain(options.cache_dir);
  if (tc.compiler.empty()) {
    result.message = "no C++ compiler found: install g++ (apt-get install g++) or set ADRS_MASKER_CXX";
    return result;
  }
  if (tc.header.empty()) {
    result.message = "masker_api.h not found (looked in " + tc.include_dir + "); set ADRS_HOME to the adrs checkout";
    return result;
  }
  std::string key_material = source + "\n--flags--";
  for (const char* flag : kFlags) key_material += std::string(" ") + flag;
  key_material += "\n--compiler--" + tc.compiler + " " + tc.version + "\n--header--" + tc.header;
  result.key = hex64(hash64(key_material));
  const std::string stem = options.cache_dir + "/" + result.key;
  result.so_path = stem + ".so";
  if (fs::exists(result.so_path)) {
    result.outcome = CompileResult::Outcome::kCompiled;
    result.cached = true;
    result.log = read_text(stem + ".log");
    return result;
  }
  if (fs::exists(stem + ".failed")) {
    result.outcome = CompileResult::Outcome::kCompileError;
    result.cached = true;
    result.log = read_text(stem + ".failed");
    result.message = "the masker does not compile:\n" + trim_compiler_log(result.log, 20);
    result.so_path.clear();
    return result;
  }

  const std::string unique = "." + std::to_string(::getpid()) + "." + hex64(hash64(std::to_string(::gettid())));
  const std::string source_path = stem + unique + ".cpp";
  const std::string temp_so = stem + unique + ".so";
  const std::string log_path = stem + unique + ".log";
  if (!write_text(source_path, source)) {
    result.message = "cannot write to the compile cache " + options.cache_dir + " (is the disk full?)";
    return result;
  }
  ProcessOptions compile;
  compile.argv = {executable_dir() + "/adrs-worker", "limit", "--memory-mb", std::to_string(options.memory_mb),
                  "--cpu-seconds", std::to_string(static_cast<long>(options.timeout_s) + 1), "--parent",
                  std::to_string(::getpid()), "--", tc.compiler};
  for (const char* flag : kFlags) compile.argv.emplace_back(flag);
  compile.argv.insert(compile.argv.end(), {"-I" + tc.include_dir, source_path, "-o", temp_so});
  compile.env = minimal_env();
  compile.output_path = log_path;
  compile.timeout_s = options.timeout_s;
  compile.cancel = options.cancel;
  const ProcessResult run = run_process(compile);
  result.wall_s = run.wall_s;
  // Compiler messages name the cache path; show the user a stable name instead.
  std::string log = read_file_tail(log_path, 64 * 1024);
  for (size_t at; (at = log.find(source_path)) != std::string::npos;) log.replace(at, source_path.size(), "masker.cpp");
  result.log = log;
  ::unlink(source_path.c_str());
  ::unlink(log_path.c_str());
  if (!run.start.ok()) {
    result.message = run.start.message();
  } else if (run.timed_out || run.signal == SIGXCPU) {
    result.outcome = CompileResult::Outcome::kTimeout;
    result.message = "the compiler ran past the " + std::to_string(static_cast<int>(options.timeout_s)) + " s compile timeout";
  } else if (run.cancelled) {
    result.outcome = CompileResult::Outcome::kCancelled;
    result.message = "compile cancelled";
  } else if (run.exited && run.exit_code == 0 && fs::exists(temp_so)) {
    write_text(stem + ".log", log);
    if (::rename(temp_so.c_str(), result.so_path.c_str()) == 0) {
      result.outcome = CompileResult::Outcome::kCompiled;
      return result;
    }
    result.message = "cannot write to the compile cache " + options.cache_dir;
  } else if (run.exited) {
    result.outcome = CompileResult::Outcome::kCompileError;
    result.message = "the masker does not compile:\n" + trim_compiler_log(log, 20);
    write_text(stem + ".failed", log);
  } else {
    result.message = "the compiler died with " + signal_description(run.signal) + "\n" + trim_compiler_log(log, 10);
  }
  ::unlink(temp_so.c_str());
  result.so_path.clear();
  return result;
}

}  // namespace adrs

#include "evaluator/compiler.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>

#include "evaluator/compile_cache.h"
#include "evaluator/compile_spawn.h"
#include "evaluator/compile_worker.h"
#include "util/resources.h"
#include "util/hash.h"
#include "util/subprocess.h"

namespace adrs {

namespace fs = std::filesystem;
namespace cw = compile_worker;

namespace {

using Outcome = CompileResult::Outcome;
using Clock = std::chrono::steady_clock;

// No -pipe: g++ puts only the first program of a pipeline under -wrapper, so `as` would escape the
// signal recording of the jail (its /tmp is a tmpfs anyway: the temporary .s costs no disk).
const char* const kFlags[] = {"-std=c++20", "-O2", "-fPIC", "-shared"};

// Headers maskers commonly use, precompiled once per toolchain: parsing them is most of a masker's
// compile time. The masker API header is not among them: a masker must include it itself.
const char* const kPrecompiledHeaders[] = {"<algorithm>", "<array>",      "<cmath>",  "<cstdint>",
                                           "<cstring>",   "<functional>", "<limits>", "<numeric>",
                                           "<queue>",     "<random>",     "<utility>", "<vector>"};

// The largest precompiled header we accept (g++ 12 writes ~55 MiB for the list above).
constexpr long kMaxPchMb = 256;

std::string read_text(const std::string& path) {
  std::string text;
  return read_regular_file(path, 1 << 20, &text).ok() ? text : "";
}

// Runs a trusted command (the compiler's --version) and returns its output, through a pipe.
std::string capture_output(const std::vector<std::string>& argv) {
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return "";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  char* env[] = {nullptr};
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, args[0], &actions, nullptr, args.data(), env);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  std::string text;
  char buffer[4096];
  for (ssize_t n; rc == 0 && text.size() < 65536 && (n = ::read(out[0], buffer, sizeof buffer)) > 0;) text.append(buffer, n);
  ::close(out[0]);
  int status = 0;
  if (rc == 0) ::waitpid(pid, &status, 0);
  return rc == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? text : "";
}

// The masker compiler: $ADRS_MASKER_CXX or g++ on PATH, resolved to its real file (the jail has no
// /etc/alternatives and no PATH).
std::string find_compiler() {
  const char* chosen = std::getenv("ADRS_MASKER_CXX");
  const std::string name = chosen && *chosen ? chosen : "g++";
  std::string found;
  if (name.find('/') != std::string::npos) {
    found = name;
  } else {
    const char* path = std::getenv("PATH");
    std::stringstream dirs(path ? path : "/usr/bin:/bin");
    for (std::string dir; found.empty() && std::getline(dirs, dir, ':');)
      if (!dir.empty() && ::access((dir + "/" + name).c_str(), X_OK) == 0) found = dir + "/" + name;
  }
  std::error_code error;
  const fs::path real = found.empty() ? fs::path() : fs::canonical(found, error);
  return error ? "" : real.string();
}

struct Toolchain {
  std::string compiler;  // canonical path
  std::string version;   // the whole --version text: part of the cache key
  std::string header;    // masker_api.h
  std::string include_dir;
};

// Probed until it succeeds (a probe failed by a fault such as EMFILE is retried by the next call).
Status toolchain(Toolchain* out) {
  static std::mutex mutex;
  static Toolchain cached;
  std::lock_guard<std::mutex> lock(mutex);
  if (cached.version.empty() || cached.header.empty()) {
    Toolchain t;
    t.include_dir = masker_include_dir();
    t.header = read_text(t.include_dir + "/masker_api.h");
    if (t.header.empty())
      return Status::Error("masker_api.h not found (looked in " + t.include_dir + "); set ADRS_HOME to a folder holding masker_template/ (an adrs checkout or <prefix>/share/adrs)");
    t.compiler = find_compiler();
    if (t.compiler.empty()) return Status::Error("no C++ compiler found: install g++ (apt-get install g++) or set ADRS_MASKER_CXX");
    if (t.compiler.rfind("/usr/", 0) != 0)
      return Status::Error("the masker compiler " + t.compiler + " is outside /usr, the only toolchain the compile jail mounts; install g++ from the distribution");
    t.version = capture_output({t.compiler, "--version"});
    if (t.version.empty()) return Status::Error("cannot run " + t.compiler + " --version (is the process out of descriptors or memory?)");
    cached = t;
  }
  *out = cached;
  return Status::Ok();
}

std::string flags_text() {
  std::string out;
  for (const char* flag : kFlags) out += std::string(flag) + " ";
  return out;
}

std::string pch_text() {
  std::string text = "// Generated by adrs: headers precompiled for masker builds.\n#pragma once\n";
  for (const char* header : kPrecompiledHeaders) text += std::string("#include ") + header + "\n";
  return text;
}

std::string read_object(int fd, size_t size) {
  std::string bytes(size, '\0');
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::pread(fd, bytes.data() + done, size - done, static_cast<off_t>(done));
    if (n <= 0 && errno != EINTR) return "";
    if (n > 0) done += static_cast<size_t>(n);
  }
  return bytes;
}

// Makes <cache>/pch-<key>/ hold masker_pch.h and, when it can be built, its .gch (built in the
// jail too). Fails only on a fault (the cache cannot be written). A build that fails is retried
// after a pause (in this process) and by every new process: no marker on disk disables it.
Status precompiled_header(const Toolchain& tc, const CompileCache& cache, const CompileOptions& options,
                          std::string* dir_out) {
  static std::mutex mutex;
  static std::map<std::string, Clock::time_point> retry_after;
  std::lock_guard<std::mutex> lock(mutex);
  const std::string text = pch_text();
  const std::string name = "pch-" + sha256_fields_hex({"adrs pch v2", text, flags_text(), tc.compiler, tc.version}).substr(0, 32);
  const std::string dir = cache.dir() + "/" + name;
  *dir_out = dir;
  if (Status s = make_directories(dir); !s.ok()) return s;
  if (read_text(dir + "/masker_pch.h") != text)
    if (Status s = write_file_atomically(dir, "masker_pch.h", text); !s.ok()) return s;
  if (fs::is_regular_file(fs::symlink_status(dir + "/masker_pch.h.gch"))) return Status::Ok();
  if (auto it = retry_after.find(dir); it != retry_after.end() && Clock::now() < it->second) return Status::Ok();

  JailRequest build;
  build.compiler = tc.compiler;
  for (const char* flag : kFlags)
    if (std::string(flag) != "-shared") build.args.emplace_back(flag);
  build.args.insert(build.args.end(), {"-wrapper", "/adrs/wrap", "-B/adrs/bin/", "-x", "c++-header", "/src/masker_pch.h", "-o", "/out/result"});
  build.source = text;
  build.source_path = "/src/masker_pch.h";
  build.header = tc.header;
  build.memory_mb = options.memory_mb;
  build.timeout_s = std::max(options.timeout_s, 120.0);
  build.max_file_mb = kMaxPchMb;
  build.cancel = options.cancel;
  JailRun run = run_compile_jail(build);
  const int object = run.object_fd;
  Status status;
  if (run.exited && run.exit_code == cw::kCompiled && run.object_size > 0) {
    const std::string gch = read_object(object, run.object_size);
    status = gch.empty() ? Status::Error("cannot read the precompiled header") : write_file_atomically(dir, "masker_pch.h.gch", gch);
  } else {
    // Without a .gch the compiler parses masker_pch.h itself: the same meaning, only slower.
    const bool rejected = run.exited && run.exit_code == cw::kRejected;
    retry_after[dir] = Clock::now() + std::chrono::seconds(rejected ? 600 : 30);
  }
  if (object >= 0) ::close(object);
  return status;
}

std::string rename_jail_paths(std::string log) {
  for (const auto& [from, to] : {std::pair<std::string, std::string>{"/src/masker.cpp", "masker.cpp"},
                                 {"/src/masker_api.h", "masker_api.h"},
                                 {"/pch/masker_pch.h", "masker_pch.h"}})
    for (size_t at; (at = log.find(from)) != std::string::npos;) log.replace(at, from.size(), to);
  return log;
}

std::string last_worker_line(const std::string& log) {
  const size_t at = log.rfind("adrs-worker compile: ");
  return at == std::string::npos ? "" : log.substr(at, log.find('\n', at) - at);
}

// Decides what a finished jail run means. Returns the outcome; *cache says whether it may be cached.
Outcome classify(const JailRun& run, const CompileOptions& options, std::string* message, bool* cache) {
  *cache = false;
  const std::string timeout = "the compiler ran past the " + std::to_string(static_cast<int>(options.timeout_s)) + " s compile timeout";
  if (!run.start.ok()) {
    *message = "cannot start the compiler jail: " + run.start.message();
    return Outcome::kSetupError;
  }
  if (run.cancelled) {
    *message = "compile cancelled";
    return Outcome::kCancelled;
  }
  if (run.timed_out) {
    *message = timeout;
    return Outcome::kTimeout;
  }
  if (!run.exited) {
    *message = "the compiler jail died of " + signal_description(run.signal) + " (killed from outside: out of memory?)";
    return Outcome::kSetupError;
  }
  switch (run.exit_code) {
    case cw::kCompiled:
      return Outcome::kCompiled;
    case cw::kRejected:
      *message = "the masker does not compile:\n" + trim_compiler_log(run.log, 20);
      *cache = true;
      return Outcome::kCompileError;
    case cw::kCpuLimit:
      *message = timeout;
      return Outcome::kTimeout;
    case cw::kOutputTooLarge:
      *message = "the masker's compiled object is larger than the file-size limit";
      return Outcome::kCompileError;
    case cw::kCompilerCrashed:
      // The compiler's own crash on this source: deterministic, the candidate's; not cached.
      *message = "the compiler crashed on the masker:\n" + trim_compiler_log(run.log, 20);
      return Outcome::kCompileError;
    default:
      *message = "the compiler jail failed (exit " + std::to_string(run.exit_code) + "): " + last_worker_line(run.log);
      return Outcome::kSetupError;
  }
}

// A cached outcome: the stored object, or the stored compile error.
void take_cached(const CompileCache::Lookup& hit, CompileResult* result) {
  result->cached = true;
  result->log = hit.log;
  if (hit.hit == CompileCache::Hit::kCompiled) {
    result->outcome = Outcome::kCompiled;
    result->so_path = hit.so_path;
  } else {
    result->outcome = Outcome::kCompileError;
    result->message = "the masker does not compile:\n" + trim_compiler_log(hit.log, 20);
  }
}

JailRequest jail_request(const std::string& source, const Toolchain& tc, const std::string& pch_dir,
                         const CompileOptions& options) {
  JailRequest request;
  request.compiler = tc.compiler;
  request.args.assign(std::begin(kFlags), std::end(kFlags));
  request.args.insert(request.args.end(), {"-wrapper", "/adrs/wrap", "-B/adrs/bin/", "-include", "/pch/masker_pch.h", "-I/src",
                                           "/src/masker.cpp", "-o", "/out/result"});
  request.source = source;
  request.header = tc.header;
  request.pch_dir = pch_dir;
  request.memory_mb = options.memory_mb;
  request.timeout_s = options.timeout_s;
  request.max_file_mb = static_cast<long>(kMaxMaskerObjectBytes >> 20);
  request.cancel = options.cancel;
  return request;
}

// Checks the jail's object and stores it in the cache (result->so_path is the cached copy).
void store_object(const JailRun& run, const std::string& source, CompileCache& cache, CompileResult* result) {
  if (run.object_size == 0) {  // the jail checked the file; an empty copy is our failure
    result->outcome = Outcome::kSetupError;
    result->message = "the compiled object came back empty from the compiler jail";
  } else if (run.object_size > kMaxMaskerObjectBytes) {
    result->outcome = Outcome::kCompileError;
    result->message = "the masker's compiled object is larger than the file-size limit";
  } else if (Status s = cache.store_compiled(result->key, source, result->log, run.object_fd, run.object_size, &result->so_path);
             !s.ok()) {
    result->outcome = Outcome::kSetupError;
    result->message = s.message();
  }
}

// Compiles in the jail (cache miss) and caches what is the masker's own: its object or its
// deterministic compile error.
void compile_in_jail(const std::string& source, const Toolchain& tc, const std::string& pch_dir,
                     const CompileOptions& options, CompileCache& cache, CompileResult* result) {
  const JailRun run = run_compile_jail(jail_request(source, tc, pch_dir, options));
  result->wall_s = run.wall_s;
  result->cpu_s = run.cpu_s;
  result->log = rename_jail_paths(run.log);
  bool cacheable = false;
  result->outcome = classify(run, options, &result->message, &cacheable);
  result->message = rename_jail_paths(result->message);
  if (result->outcome == Outcome::kCompiled) {
    store_object(run, source, cache, result);
  } else if (cacheable) {
    // A compile error that cannot be cached is still a compile error: it will be recompiled later.
    Status ignored = cache.store_compile_error(result->key, source, result->log);
    (void)ignored;
  }
  if (run.object_fd >= 0) ::close(run.object_fd);
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
  if (error) return Status::Fault("cannot create directory " + path + ": " + error.message());
  return Status::Ok();
}

std::string masker_include_dir() { return data_dir() + "/masker_template"; }

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
  std::unique_ptr<CompileCache> cache;
  Toolchain tc;
  if (Status s = CompileCache::Open(options.cache_dir, &cache); !s.ok()) {
    result.message = s.message();
    return result;
  }
  if (Status s = toolchain(&tc); !s.ok()) {
    result.message = s.message();
    return result;
  }
  result.key = sha256_fields_hex({"adrs masker v2", source, flags_text(), tc.compiler, tc.version, tc.header, pch_text()});
  if (const CompileCache::Lookup hit = cache->find(result.key, source); hit.hit != CompileCache::Hit::kMiss) {
    take_cached(hit, &result);
    return result;
  }
  std::string pch_dir;
  if (Status s = precompiled_header(tc, *cache, options, &pch_dir); !s.ok()) {
    result.message = s.message();
    return result;
  }
  compile_in_jail(source, tc, pch_dir, options, *cache, &result);
  if (!result.ok()) result.so_path.clear();
  return result;
}

std::string name_masker_file(std::string log, const std::string& shown_name) {
  for (size_t at = log.find("masker.cpp:"); at != std::string::npos; at = log.find("masker.cpp:", at + 1)) {
    if (at > 0 && (std::isalnum(static_cast<unsigned char>(log[at - 1])) || log[at - 1] == '_' || log[at - 1] == '/')) continue;
    log.replace(at, 10, shown_name);
    at += shown_name.size() > 0 ? shown_name.size() - 1 : 0;
  }
  return log;
}

}  // namespace adrs

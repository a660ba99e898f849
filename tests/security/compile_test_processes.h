// Test helper: the processes descending from a pid, read from /proc (host pids, so processes in
// the compile jail's PID namespace are seen too). Tests run in parallel under ctest, so "no
// compiler left" must mean "none of ours", never "none on the machine".
#pragma once

#include <dirent.h>
#include <stdlib.h>
#include <sys/types.h>

#include <filesystem>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include "util/file.h"

namespace adrs::test {

// A fresh directory under the build tree (not /tmp, where other tools sweep adrs-* leftovers).
inline std::string make_test_dir(const std::string& base, const std::string& prefix) {
  std::error_code ignored;
  std::filesystem::create_directories(base + "/test-tmp", ignored);
  std::string pattern = base + "/test-tmp/" + prefix + "-XXXXXX";
  return ::mkdtemp(pattern.data()) ? pattern : "";
}

struct ProcessId {
  pid_t pid = 0;
  unsigned long long start = 0;  // start time: a reused pid is another process
  bool operator<(const ProcessId& o) const { return pid != o.pid ? pid < o.pid : start < o.start; }
};

inline bool read_stat(pid_t pid, pid_t* ppid, unsigned long long* start) {
  // read_file, not an ifstream: a process that exits mid-read fails the read with ESRCH, which
  // libstdc++'s filebuf throws as an exception.
  std::string text;
  if (!read_file("/proc/" + std::to_string(pid) + "/stat", &text).ok()) return false;
  const size_t close = text.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream fields(text.substr(close + 2));
  std::string field;
  char state = 0;
  fields >> state >> *ppid;
  for (int i = 5; i < 22 && fields >> field; ++i) {
  }
  return static_cast<bool>(fields >> *start) && state != 'Z';
}

inline std::string cmdline(pid_t pid) {
  std::string text;
  return read_file("/proc/" + std::to_string(pid) + "/cmdline", &text).ok() ? text : "";
}

inline std::string comm(pid_t pid) {
  std::string name;
  if (!read_file("/proc/" + std::to_string(pid) + "/comm", &name).ok()) return "";
  return name.substr(0, name.find('\n'));
}

// Live descendants of `root` whose command line contains `needle`.
inline std::set<ProcessId> descendants(pid_t root, const std::string& needle) {
  std::map<pid_t, std::pair<pid_t, unsigned long long>> parent;
  if (DIR* proc = ::opendir("/proc")) {
    while (const dirent* e = ::readdir(proc)) {
      if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
      const pid_t pid = static_cast<pid_t>(std::stol(e->d_name));
      pid_t ppid = 0;
      unsigned long long start = 0;
      if (read_stat(pid, &ppid, &start)) parent[pid] = {ppid, start};
    }
    ::closedir(proc);
  }
  std::set<ProcessId> out;
  for (const auto& [pid, info] : parent) {
    int hops = 0;
    for (pid_t up = info.first; up > 1 && hops < 64; ++hops) {
      if (up == root) {
        if (cmdline(pid).find(needle) != std::string::npos) out.insert({pid, info.second});
        break;
      }
      auto it = parent.find(up);
      if (it == parent.end()) break;
      up = it->second.first;
    }
  }
  return out;
}

inline int still_alive(const std::set<ProcessId>& processes) {
  int alive = 0;
  for (const ProcessId& p : processes) {
    pid_t ppid = 0;
    unsigned long long start = 0;
    if (read_stat(p.pid, &ppid, &start) && start == p.start) ++alive;
  }
  return alive;
}

}  // namespace adrs::test

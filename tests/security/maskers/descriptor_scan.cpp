// Class 2: lists every descriptor it holds, then writes into each one it did not get on purpose
// (an inherited log, database or LLM socket would take the write).
#include <fcntl.h>
#include <unistd.h>

#include <stdexcept>
#include <string>

#include "masker_api.h"

void select(const adrs::Row& row, adrs::Selection& out) {
  if (row.layer != 0 || row.head != 0 || row.step != 0) {
    out.add(0);
    return;
  }
  std::string open_fds = "open descriptors:";
  for (int fd = 0; fd < 4096; ++fd)
    if (fcntl(fd, F_GETFD) >= 0) {
      open_fds += " " + std::to_string(fd);
      if (fd > 6) {
        const char text[] = "PWNED";
        (void)!write(fd, text, sizeof text - 1);
      }
    }
  throw std::runtime_error(open_fds);
}

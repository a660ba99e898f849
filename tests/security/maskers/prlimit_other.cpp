// Class 3: lowers the limits of another process (the keeper outside, or any pid).
#include <sys/resource.h>

#include "masker_api.h"

void select(const adrs::Row&, adrs::Selection& out) {
  const rlimit none{0, 0};
  for (pid_t pid = 2; pid < 64; ++pid) prlimit(pid, RLIMIT_NOFILE, &none, nullptr);
  out.add(0);
}

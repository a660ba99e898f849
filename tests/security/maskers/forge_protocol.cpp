// Class 8: prints a fake sandbox line, writes "ready" lines to every descriptor it might reach,
// and returns valid selections, hoping the evaluator believes one of them.
#include <unistd.h>

#include <cstdio>

#include "masker_api.h"

namespace {
const int kForged = [] {
  std::fputs("worker sandbox: none at all PWNED\n", stderr);
  for (int fd = 3; fd < 64; ++fd) (void)!write(fd, "ready\nPWNED\n", 12);
  return 0;
}();
}

void select(const adrs::Row&, adrs::Selection& out) { out.add(kForged); }

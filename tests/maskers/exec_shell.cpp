// Tries to run a shell.
#include <cstdlib>
#include "masker_api.h"
void select(const adrs::Row&, adrs::Selection& out) {
  if (std::system("echo pwned > /tmp/adrs-pwned") == 0) out.add(0);
  out.add(0);
}

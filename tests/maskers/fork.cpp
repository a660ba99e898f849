// Tries to start a process.
#include <unistd.h>
#include "masker_api.h"
void select(const adrs::Row&, adrs::Selection& out) {
  if (fork() == 0) _exit(0);
  out.add(0);
}

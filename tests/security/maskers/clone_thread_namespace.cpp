// Asks for a new network namespace together with CLONE_THREAD, hoping a filter that only checks
// for CLONE_THREAD lets it through.
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "masker_api.h"

void select(const adrs::Row&, adrs::Selection& out) {
  syscall(SYS_clone, CLONE_THREAD | CLONE_SIGHAND | CLONE_VM | CLONE_NEWNET, nullptr, nullptr, nullptr, 0);
  out.add(0);
}

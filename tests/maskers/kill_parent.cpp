// Tries to kill the process that started the worker.
#include <signal.h>
#include <unistd.h>
#include "masker_api.h"
void select(const adrs::Row&, adrs::Selection& out) {
  kill(getppid(), SIGKILL);
  out.add(0);
}

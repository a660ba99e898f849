// Class 3: signals every process it may (kill(-1)) and its process group (kill(0)).
#include <signal.h>

#include "masker_api.h"

void select(const adrs::Row&, adrs::Selection& out) {
  kill(-1, SIGKILL);
  kill(0, SIGKILL);
  out.add(0);
}

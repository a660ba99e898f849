// Class 3: asks for SIGIO on its output to go to another process (pid 1 outside would be init,
// inside the namespace it is the worker; any other pid is someone else).
#include <fcntl.h>
#include <unistd.h>

#include "masker_api.h"

void select(const adrs::Row&, adrs::Selection& out) {
  fcntl(1, F_SETOWN, 2);
  fcntl(1, F_SETFL, O_ASYNC);
  out.add(0);
}

// Class 4: memory in a memfd escapes an address-space limit.
#include <sys/mman.h>
#include <unistd.h>

#include "masker_api.h"

void select(const adrs::Row&, adrs::Selection& out) {
  const int fd = memfd_create("hoard", 0);
  ftruncate(fd, 1L << 34);
  out.add(0);
}

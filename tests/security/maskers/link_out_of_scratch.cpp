// Tries to plant links in its scratch that point out of the jail (a later reader following them
// would read the host), and a path that climbs out of /work: links are not allowed at all.
#include <fcntl.h>
#include <unistd.h>

#include <stdexcept>
#include <string>

#include "masker_api.h"

void select(const adrs::Row& row, adrs::Selection& out) {
  const int fd = ::open("/work/../../etc/shadow", O_RDONLY);
  if (fd >= 0) throw std::runtime_error("opened /etc/shadow through /work/..");
  (void)!::link("/work/masker.so", "/work/hard");
  (void)!::symlink("/etc", "/work/etc");
  out.add(row.num_keys - 1);
}

// Tries to open a network socket.
#include <sys/socket.h>
#include "masker_api.h"
void select(const adrs::Row&, adrs::Selection& out) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  out.add(fd >= 0 ? 0 : 1);
}

// Writes to its standard error without end: the output is capped (file-size limit on the memfd the
// parent made), the worker ends with SIGXFSZ, and the parent reads back only the tail.
#include <unistd.h>

#include <vector>

#include "masker_api.h"

void select(const adrs::Row& row, adrs::Selection& out) {
  static const std::vector<char> junk(1 << 20, 'x');
  if (row.layer == 0 && row.head == 0 && row.step == 0)
    for (;;)
      if (::write(2, junk.data(), junk.size()) < 0) break;
  out.add(row.num_keys - 1);
}

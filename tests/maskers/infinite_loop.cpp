// Never returns.
#include "masker_api.h"
void select(const adrs::Row& row, adrs::Selection& out) {
  volatile long spin = 0;
  for (;;) spin = spin + row.num_keys;
  out.add(0);
}

// Dereferences a null pointer in row 3.
#include "masker_api.h"
void select(const adrs::Row& row, adrs::Selection& out) {
  out.add(0);
  if (row.layer == 0 && row.head == 3) {
    volatile int* p = nullptr;
    *p = 1;
  }
}

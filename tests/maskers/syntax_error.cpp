// Does not compile.
#include "masker_api.h"
void select(const adrs::Row& row, adrs::Selection& out) {
  out.add(row.num_keys - 1)
  undefined_function();
}

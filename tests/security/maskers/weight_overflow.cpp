// Class 8: two valid weights whose sum overflows to inf once repeats are merged.
#include "masker_api.h"

void select(const adrs::Row&, adrs::Selection& out) {
  out.add(0, 1e308);
  out.add(0, 1e308);
}

// Keeps the compiler busy for minutes (nested constant-evaluated loops just under GCC's per-loop
// limit), so the compile timeout must fire: a candidate that "hangs the compiler".
#include "masker_api.h"

// EVOLVE-BLOCK-START
constexpr long spin() {
  long total = 0;
  for (long i = 0; i < 200000; ++i)
    for (long j = 0; j < 200000; ++j) total += (i ^ j) & 1;
  return total;
}
constexpr long kSpun = spin();

void select(const adrs::Row& row, adrs::Selection& out) {
  out.add(row.num_keys - 1, kSpun > 0 ? 1.0 : 1.0);
}
// EVOLVE-BLOCK-END

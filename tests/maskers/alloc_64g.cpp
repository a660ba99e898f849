// Asks for 64 GiB.
#include <vector>
#include "masker_api.h"
void select(const adrs::Row& row, adrs::Selection& out) {
  std::vector<char> huge(64ull << 30, 1);
  out.add(huge[row.num_keys] - 1);
}

// Class 1: floods its message and output channels (a parent reading them whole would run out of
// memory or block).
#include <unistd.h>

#include <vector>

#include "masker_api.h"

void select(const adrs::Row&, adrs::Selection&) {
  std::vector<char> chunk(1 << 20, 'A');
  for (int i = 0; i < 8192; ++i) {
    (void)!write(6, chunk.data(), chunk.size());
    (void)!write(2, chunk.data(), chunk.size());
  }
}

// SplitMix: a small, seedable random generator whose sequence is the same on every platform and
// compiler (std:: distributions are not), so a run's choices replay exactly on resume and on
// another machine. Used by parent selection (driver/run/population) and the offline proposer.
#pragma once

#include <cstdint>

namespace adrs {

class SplitMix {
 public:
  explicit SplitMix(uint64_t seed) : state_(seed) {}
  uint64_t next();
  double uniform();      // [0, 1)
  double normal();       // standard normal (Box-Muller)
  int below(int count);  // [0, count)

 private:
  uint64_t state_;
};

}  // namespace adrs

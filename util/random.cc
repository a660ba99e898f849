#include "util/random.h"

#include <algorithm>
#include <cmath>

#include "util/hash.h"

namespace adrs {

uint64_t SplitMix::next() { return state_ = mix64(state_); }
double SplitMix::uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
double SplitMix::normal() {
  const double u = std::max(uniform(), 1e-300), v = uniform();
  return std::sqrt(-2.0 * std::log(u)) * std::cos(2.0 * M_PI * v);
}
int SplitMix::below(int count) { return count <= 1 ? 0 : static_cast<int>(next() % static_cast<uint64_t>(count)); }

}  // namespace adrs

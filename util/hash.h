// Hashing helpers: xxHash64 for content addresses, splitmix64 for deriving seeds.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include <xxhash.h>

namespace adrs {

inline uint64_t hash64(std::string_view bytes, uint64_t seed = 0) {
  return XXH64(bytes.data(), bytes.size(), seed);
}

inline std::string hex64(uint64_t value) {
  char buffer[17];
  std::snprintf(buffer, sizeof buffer, "%016llx", static_cast<unsigned long long>(value));
  return buffer;
}

// splitmix64 finalizer: a cheap, well-mixed function of its input.
inline uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

inline uint64_t combine_seed(uint64_t seed, uint64_t value) { return mix64(seed ^ mix64(value)); }

}  // namespace adrs

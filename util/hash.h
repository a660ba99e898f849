// Hashing helpers.
//   sha256_hex: a cryptographic digest (OpenSSL libcrypto) for anything an attacker could try to
//     collide: compile-cache keys, stored-object checks. Candidate sources are untrusted, so a
//     non-cryptographic hash must never decide that two of them are "the same".
//   hash64 (xxHash64): fast content fingerprints where a collision costs nothing but a cache miss
//     or a duplicate flag, never a wrong result.
//   mix64 / combine_seed (splitmix64): deriving seeds.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <initializer_list>

#include <xxhash.h>

namespace adrs {

// Lower-case hex SHA-256 of `bytes` (64 characters).
std::string sha256_hex(std::string_view bytes);

// SHA-256 of several fields, each prefixed with its length, so that moving bytes from one field
// to the next ("ab"+"c" vs "a"+"bc") always changes the digest.
std::string sha256_fields_hex(std::initializer_list<std::string_view> fields);

inline uint64_t hash64(std::string_view bytes, uint64_t seed = 0) {
  return XXH64(bytes.data(), bytes.size(), seed);
}

// Lower-case hex of `value`, 16 characters.
std::string hex64(uint64_t value);

// splitmix64 finalizer: a cheap, well-mixed function of its input.
inline uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

inline uint64_t combine_seed(uint64_t seed, uint64_t value) { return mix64(seed ^ mix64(value)); }

}  // namespace adrs

#include "util/hash.h"

#include <openssl/evp.h>

#include <cstdlib>
#include <memory>

#include <fmt/format.h>

namespace adrs {

namespace {

struct ContextFree {
  void operator()(EVP_MD_CTX* context) const { EVP_MD_CTX_free(context); }
};

std::string to_hex(const unsigned char* digest, unsigned length) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * length);
  for (unsigned i = 0; i < length; ++i) {
    out += kDigits[digest[i] >> 4];
    out += kDigits[digest[i] & 15];
  }
  return out;
}

}  // namespace

std::string sha256_fields_hex(std::initializer_list<std::string_view> fields) {
  std::unique_ptr<EVP_MD_CTX, ContextFree> context(EVP_MD_CTX_new());
  // libcrypto fails here only without memory or with a broken installation: a cache key that is
  // silently weaker would be worse than stopping.
  if (!context || EVP_DigestInit_ex(context.get(), EVP_sha256(), nullptr) != 1) std::abort();
  for (std::string_view field : fields) {
    const std::string length = std::to_string(field.size()) + ":";
    EVP_DigestUpdate(context.get(), length.data(), length.size());
    EVP_DigestUpdate(context.get(), field.data(), field.size());
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned length = 0;
  if (EVP_DigestFinal_ex(context.get(), digest, &length) != 1) std::abort();
  return to_hex(digest, length);
}

std::string sha256_hex(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned length = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr) != 1) std::abort();
  return to_hex(digest, length);
}

std::string hex64(uint64_t value) { return fmt::format("{:016x}", value); }

}  // namespace adrs

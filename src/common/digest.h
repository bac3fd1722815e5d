// common/digest.h: message digests as lowercase hex: the song hash (SHA-224 of the upload), job
// ids, and the page's ETags all use these; and random tokens in the same form.
#pragma once

#include <openssl/evp.h>

#include <cstdint>
#include <random>
#include <string>
#include <string_view>

namespace msaas::common {

inline std::string to_hex(const unsigned char* bytes, size_t size) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(2 * size);
  for (size_t i = 0; i < size; ++i) {
    out += digits[bytes[i] >> 4];
    out += digits[bytes[i] & 15];
  }
  return out;
}

// The hex digest of `data` with `md` (EVP_sha224(), EVP_sha256() ...).
inline std::string digest_hex(std::string_view data, const EVP_MD* md) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(data.data(), data.size(), digest, &size, md, nullptr);
  return to_hex(digest, size);
}

// 16 random hex characters: what makes each submission's upload name and each callback its
// own (scripts.h recognises uploads named this way).
inline std::string random_token() {
  static thread_local std::mt19937_64 random{std::random_device{}()};
  uint64_t value = random();
  return to_hex(reinterpret_cast<const unsigned char*>(&value), sizeof value);
}

}  // namespace msaas::common

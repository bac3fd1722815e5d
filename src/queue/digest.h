// queue/digest.h: message digests as lowercase hex: the song hash (SHA-224 of the upload), job
// ids, and the page's ETags all use these.
#pragma once

#include <openssl/evp.h>

#include <string>
#include <string_view>

namespace msaas::queue {

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

}  // namespace msaas::queue

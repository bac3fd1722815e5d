// storage/sigv4.cpp: see sigv4.h. The steps follow AWS's "Signature Version 4 signing process":
// canonical request, string to sign, a key derived from the secret by date/region/service, HMAC.
#include "storage/sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/digest.h"

namespace msaas::storage {

namespace {

std::string hmac_sha256(const std::string& key, const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &size);
  return std::string(reinterpret_cast<const char*>(out), size);
}

// SigV4's header value: no leading or trailing spaces, inner runs of spaces as one.
std::string trimmed(const std::string& value) {
  std::string out;
  for (char c : value) {
    bool space = c == ' ' || c == '\t';
    if (space && (out.empty() || out.back() == ' ')) continue;
    out += space ? ' ' : c;
  }
  if (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

std::string signed_header_names(const SigV4Request& request) {
  std::string names;
  for (const auto& [name, value] : request.headers) names += (names.empty() ? "" : ";") + name;
  return names;
}

}  // namespace

std::string amz_date(std::time_t when) {
  std::tm utc{};
  gmtime_r(&when, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y%m%dT%H%M%SZ", &utc);
  return text;
}

std::string sigv4_canonical_request(const SigV4Request& request) {
  std::string headers;  // std::map keeps the names sorted, as SigV4 requires
  for (const auto& [name, value] : request.headers) headers += name + ":" + trimmed(value) + "\n";
  return request.method + "\n" + request.path + "\n" + request.query + "\n" + headers + "\n" +
         signed_header_names(request) + "\n" + request.payload_hash;
}

std::string sigv4_authorization(const SigV4Key& key, const SigV4Request& request,
                                const std::string& date) {
  std::string day = date.substr(0, 8);
  std::string scope = day + "/" + key.region + "/" + key.service + "/aws4_request";
  std::string to_sign = "AWS4-HMAC-SHA256\n" + date + "\n" + scope + "\n" +
                        common::digest_hex(sigv4_canonical_request(request), EVP_sha256());
  std::string signing_key = hmac_sha256(
      hmac_sha256(hmac_sha256(hmac_sha256("AWS4" + key.secret_key, day), key.region), key.service),
      "aws4_request");
  std::string signature = hmac_sha256(signing_key, to_sign);
  return "AWS4-HMAC-SHA256 Credential=" + key.access_key + "/" + scope +
         ", SignedHeaders=" + signed_header_names(request) + ", Signature=" +
         common::to_hex(reinterpret_cast<const unsigned char*>(signature.data()), signature.size());
}

}  // namespace msaas::storage

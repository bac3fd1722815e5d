// storage/sigv4.h: AWS Signature Version 4 for S3 requests, computed here instead of by libcurl.
// libcurl 7.88's aws-sigv4 signs every header it is given, including the `Expect:` line that
// only removes a header (curl issue #11664), so peers that check signatures (MinIO, AWS) refuse
// its PUTs. Here the caller names exactly the headers that are sent and signed.
#pragma once

#include <ctime>
#include <map>
#include <string>

namespace msaas::storage {

struct SigV4Key {
  std::string access_key, secret_key, region, service = "s3";
};

// One request as the peer will see it. `headers` are the signed ones, names in lower case;
// `host` must be among them. `path` is already percent-encoded (S3 does not encode it twice).
struct SigV4Request {
  std::string method, path, query;
  std::map<std::string, std::string> headers;
  std::string payload_hash = "UNSIGNED-PAYLOAD";
};

// 20130524T000000Z: the x-amz-date form of `when` (UTC).
std::string amz_date(std::time_t when);

// The value of the Authorization header for `request` signed at `date` (amz_date form). The
// request's headers must already hold x-amz-date = date and x-amz-content-sha256.
std::string sigv4_authorization(const SigV4Key& key, const SigV4Request& request,
                                const std::string& date);

// The canonical request of SigV4's first step (exposed for tests and error messages).
std::string sigv4_canonical_request(const SigV4Request& request);

}  // namespace msaas::storage

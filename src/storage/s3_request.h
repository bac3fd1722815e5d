// storage/s3_request.h: one SigV4-signed HTTP request to an S3 endpoint (libcurl easy handle), with
// streamed upload and download bodies. S3Storage builds its calls from these.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "storage/sigv4.h"
#include "storage/storage.h"

namespace msaas::storage {

struct S3Response {
  long status = 0;
  int64_t content_length = -1;
  std::string error_body;  // the body of a non-2xx answer (S3's XML error), for messages
};

class S3Request {
 public:
  S3Request(const StorageConfig& config, const std::string& method, const std::string& bucket,
            const std::string& key = "");
  // An extra header ("Name: value"), sent and signed.
  void header(const std::string& line) { headers_.push_back(line); }
  // Sends `file` (size bytes) as the body.
  void upload(std::FILE* file, int64_t size) {
    upload_ = file;
    upload_size_ = size;
  }
  // 2xx bodies go to `sink`; others are kept as error_body.
  void download(const ByteSink& sink) { sink_ = sink; }
  S3Response perform();
  const std::string& url() const { return url_; }

 private:
  void sign(SigV4Request& request);

  const StorageConfig& config_;
  std::string method_, host_, path_, url_;
  std::vector<std::string> headers_;
  std::FILE* upload_ = nullptr;
  int64_t upload_size_ = 0;
  ByteSink sink_;
};

// "HTTP 403 (AccessDenied: ...)" from a failed response, for error messages.
std::string describe_failure(const S3Response& response);

}  // namespace msaas::storage

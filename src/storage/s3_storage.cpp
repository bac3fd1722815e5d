// storage/s3_storage.cpp: see s3_storage.h.
#include "storage/s3_storage.h"

#include <curl/curl.h>

#include <cstdio>
#include <memory>

#include "storage/s3_request.h"

namespace msaas::storage {

namespace {

bool ok(const S3Response& r) {
  return r.status >= 200 && r.status < 300;
}

[[noreturn]] void fail(const std::string& what, const S3Response& r) {
  throw StorageError(what + ": " + describe_failure(r));
}

// A HEAD answer has no body, so S3's reason (SignatureDoesNotMatch, AccessDenied ...) is not in
// it: the same thing is asked again with GET, whose error body names it.
[[noreturn]] void fail_head(const StorageConfig& config, const std::string& what,
                            const std::string& bucket, const std::string& key,
                            const S3Response& head) {
  S3Request again(config, "GET", bucket, key);
  again.download([](const char*, size_t) { return false; });  // a success: read nothing
  auto answer = again.perform();
  fail(what, answer.status == head.status && !answer.error_body.empty() ? answer : head);
}

}  // namespace

S3Storage::S3Storage(StorageConfig config) : config_(std::move(config)) {
  static const bool initialised = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
  (void)initialised;
}

void S3Storage::ensure_bucket(const std::string& bucket) {
  check_key(bucket);
  auto head = S3Request(config_, "HEAD", bucket).perform();
  if (ok(head)) return;
  if (head.status != 404) fail_head(config_, "cannot check bucket " + bucket, bucket, "", head);
  auto made = S3Request(config_, "PUT", bucket).perform();
  // 409: another process created it in between.
  if (!ok(made) && made.status != 409) fail("cannot create bucket " + bucket, made);
}

void S3Storage::put_file(const std::string& bucket, const std::string& key, const std::string& path,
                         const std::string& content_type) {
  check_key(key);
  std::unique_ptr<std::FILE, decltype(&std::fclose)> file(std::fopen(path.c_str(), "rb"),
                                                          std::fclose);
  if (!file) throw StorageError("cannot read " + path);
  std::fseek(file.get(), 0, SEEK_END);
  int64_t bytes = std::ftell(file.get());
  std::fseek(file.get(), 0, SEEK_SET);
  S3Request request(config_, "PUT", bucket, key);
  if (!content_type.empty()) request.header("Content-Type: " + content_type);
  request.upload(file.get(), bytes);
  auto response = request.perform();
  if (!ok(response)) fail("cannot store " + bucket + "/" + key, response);
}

std::optional<int64_t> S3Storage::size(const std::string& bucket, const std::string& key) {
  check_key(key);
  auto response = S3Request(config_, "HEAD", bucket, key).perform();
  if (response.status == 404) return std::nullopt;
  if (!ok(response))
    fail_head(config_, "cannot look up " + bucket + "/" + key, bucket, key, response);
  return response.content_length;
}

void S3Storage::read(const std::string& bucket, const std::string& key, int64_t offset,
                     int64_t length, const ByteSink& sink) {
  check_key(key);
  if (length <= 0) return;
  S3Request request(config_, "GET", bucket, key);
  request.header("Range: bytes=" + std::to_string(offset) + "-" +
                 std::to_string(offset + length - 1));
  request.download(sink);
  auto response = request.perform();
  if (!ok(response)) fail("cannot read " + bucket + "/" + key, response);
}

void S3Storage::remove(const std::string& bucket, const std::string& key) {
  check_key(key);
  auto response = S3Request(config_, "DELETE", bucket, key).perform();
  if (!ok(response) && response.status != 404)
    fail("cannot remove " + bucket + "/" + key, response);
}

void S3Storage::check(const std::string& bucket) {
  auto response = S3Request(config_, "HEAD", bucket).perform();
  if (!ok(response))
    fail_head(config_, "bucket " + bucket + " at " + config_.endpoint, bucket, "", response);
}

std::string S3Storage::describe() const {
  return "s3:" + config_.endpoint;
}

}  // namespace msaas::storage

// storage/storage.h: where uploads and stems live. One interface, two backends: a folder on disk
// (the embedded default) and any S3-compatible service (MinIO, AWS, GCS interop). Objects move as
// files or byte streams, never whole in memory.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

namespace msaas::storage {

// A storage call that failed; the message is one readable line.
class StorageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Receives an object's bytes in order; return false to stop early.
using ByteSink = std::function<bool(const char* data, size_t size)>;

class Storage {
 public:
  virtual ~Storage() = default;
  // Creates the bucket if it does not exist.
  virtual void ensure_bucket(const std::string& bucket) = 0;
  // Stores the file at `path` as bucket/key, streamed; replaces an existing object whole.
  virtual void put_file(const std::string& bucket, const std::string& key, const std::string& path,
                        const std::string& content_type) = 0;
  // Size in bytes, or nothing when the object does not exist.
  virtual std::optional<int64_t> size(const std::string& bucket, const std::string& key) = 0;
  // Streams bytes [offset, offset + length) of the object to `sink`.
  virtual void read(const std::string& bucket, const std::string& key, int64_t offset,
                    int64_t length, const ByteSink& sink) = 0;
  // Removes the object; an object that does not exist is not an error.
  virtual void remove(const std::string& bucket, const std::string& key) = 0;
  // Throws StorageError unless the backend answers and `bucket` exists (readiness checks).
  virtual void check(const std::string& bucket) = 0;
  virtual std::string describe() const = 0;

  // Copies a whole object to a local file (temporary name, then rename).
  void get_file(const std::string& bucket, const std::string& key, const std::string& path);
};

// Bounds the storage calls this thread makes while it lives: a call gives up with StorageError
// once `cancel` turns true or `seconds` have passed, instead of waiting out a stalled peer (a
// minute). For readiness checks and for threads a shutdown waits for.
class TransferLimit {
 public:
  explicit TransferLimit(double seconds, const std::atomic<bool>* cancel = nullptr);
  ~TransferLimit();
  TransferLimit(const TransferLimit&) = delete;
  TransferLimit& operator=(const TransferLimit&) = delete;
  // True when any limit of the calling thread (the innermost or one around it) says stop.
  static bool reached();

 private:
  std::chrono::steady_clock::time_point deadline_;
  const std::atomic<bool>* cancel_;
  TransferLimit* outer_;
};

struct StorageConfig {
  std::string backend = "fs";        // "fs" or "s3"
  std::string root = "var/storage";  // fs: the folder holding one subfolder per bucket
  std::string endpoint;              // s3: e.g. http://minio:9000 (path-style addressing)
  std::string region = "us-east-1";
  std::string access_key, secret_key;
};

std::unique_ptr<Storage> make_storage(const StorageConfig& config);

// Throws StorageError unless `key` is a safe object name: 1-512 characters of letters, digits,
// '.', '_', '-', '+', ' ' and '/', no empty, '.' or '..' path parts.
void check_key(const std::string& key);

}  // namespace msaas::storage

// storage/s3_storage.h: the S3 backend on libcurl: path-style URLs (<endpoint>/<bucket>/<key>)
// so any endpoint works (MinIO, AWS, GCS interop), requests signed with libcurl's AWS SigV4,
// bodies streamed from and to files or sinks.
#pragma once

#include "storage/storage.h"

namespace msaas::storage {

class S3Storage : public Storage {
 public:
  explicit S3Storage(StorageConfig config);
  void ensure_bucket(const std::string& bucket) override;
  void put_file(const std::string& bucket, const std::string& key, const std::string& path,
                const std::string& content_type) override;
  std::optional<int64_t> size(const std::string& bucket, const std::string& key) override;
  void read(const std::string& bucket, const std::string& key, int64_t offset, int64_t length,
            const ByteSink& sink) override;
  void remove(const std::string& bucket, const std::string& key) override;
  void check(const std::string& bucket) override;
  std::string describe() const override;

 private:
  StorageConfig config_;
};

}  // namespace msaas::storage

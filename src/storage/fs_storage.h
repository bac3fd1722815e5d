// storage/fs_storage.h: the filesystem backend: <root>/<bucket>/<key>. Writes go to a hidden
// temporary file first and are renamed into place, so readers never see half an object.
#pragma once

#include <filesystem>

#include "storage/storage.h"

namespace msaas::storage {

class FsStorage : public Storage {
 public:
  explicit FsStorage(std::filesystem::path root);
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
  std::filesystem::path object_path(const std::string& bucket, const std::string& key) const;
  std::filesystem::path root_;
};

}  // namespace msaas::storage

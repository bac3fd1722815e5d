// storage/fs_storage.cpp: see fs_storage.h.
#include "storage/fs_storage.h"

#include <unistd.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <vector>

namespace msaas::storage {
namespace fs = std::filesystem;

FsStorage::FsStorage(fs::path root) : root_(std::move(root)) {}

fs::path FsStorage::object_path(const std::string& bucket, const std::string& key) const {
  check_key(bucket);
  check_key(key);
  return root_ / bucket / key;
}

void FsStorage::ensure_bucket(const std::string& bucket) {
  check_key(bucket);
  std::error_code ec;
  fs::create_directories(root_ / bucket, ec);
  if (ec)
    throw StorageError("cannot create bucket folder " + (root_ / bucket).string() + ": " +
                       ec.message());
}

void FsStorage::put_file(const std::string& bucket, const std::string& key, const std::string& path,
                         const std::string&) {
  static std::atomic<unsigned> counter{0};
  fs::path target = object_path(bucket, key);
  if (!fs::is_directory(root_ / bucket)) throw StorageError("no bucket " + bucket);
  std::error_code ec;
  fs::create_directories(target.parent_path(), ec);
  // Named here: otherwise the copy below fails with a bare "No such file or directory" that
  // hides the real cause (typically a volume the service's user may not write).
  if (ec)
    throw StorageError("cannot store " + bucket + "/" + key + ": cannot create folder " +
                       target.parent_path().string() + ": " + ec.message());
  fs::path temp =
      target.parent_path() / ("." + target.filename().string() + "." + std::to_string(getpid()) +
                              "." + std::to_string(counter++) + ".tmp");
  fs::copy_file(path, temp, fs::copy_options::overwrite_existing, ec);
  if (!ec) fs::rename(temp, target, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove(temp, ignored);
    throw StorageError("cannot store " + bucket + "/" + key + " in " +
                       target.parent_path().string() + ": " + ec.message());
  }
}

std::optional<int64_t> FsStorage::size(const std::string& bucket, const std::string& key) {
  std::error_code ec;
  auto n = fs::file_size(object_path(bucket, key), ec);
  if (ec) return std::nullopt;
  return static_cast<int64_t>(n);
}

void FsStorage::read(const std::string& bucket, const std::string& key, int64_t offset,
                     int64_t length, const ByteSink& sink) {
  std::ifstream in(object_path(bucket, key), std::ios::binary);
  if (!in) throw StorageError("no object " + bucket + "/" + key);
  in.seekg(offset);
  std::vector<char> buffer(1 << 16);
  while (length > 0) {
    auto want = static_cast<std::streamsize>(std::min<int64_t>(length, buffer.size()));
    in.read(buffer.data(), want);
    auto got = in.gcount();
    if (got <= 0) throw StorageError("object " + bucket + "/" + key + " is shorter than asked");
    if (!sink(buffer.data(), static_cast<size_t>(got))) return;
    length -= got;
  }
}

void FsStorage::remove(const std::string& bucket, const std::string& key) {
  std::error_code ec;
  fs::path target = object_path(bucket, key);
  fs::remove(target, ec);
  if (ec) throw StorageError("cannot remove " + bucket + "/" + key + ": " + ec.message());
  // Drop folders the removal left empty (a job's stems live in one), up to the bucket.
  for (fs::path dir = target.parent_path(); dir != root_ / bucket; dir = dir.parent_path())
    if (!fs::remove(dir, ec)) break;
}

void FsStorage::check(const std::string& bucket) {
  check_key(bucket);
  if (!fs::is_directory(root_ / bucket) || access((root_ / bucket).c_str(), W_OK) != 0)
    throw StorageError("bucket folder " + (root_ / bucket).string() + " is missing or read-only");
}

std::string FsStorage::describe() const {
  return "fs:" + root_.string();
}

}  // namespace msaas::storage

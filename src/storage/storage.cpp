// storage/storage.cpp: what every backend shares: key rules, whole-object download, the factory.
#include "storage/storage.h"

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "storage/fs_storage.h"
#include "storage/s3_storage.h"

namespace msaas::storage {

void check_key(const std::string& key) {
  if (key.empty() || key.size() > 512) throw StorageError("object name must be 1-512 characters");
  size_t start = 0;
  while (start <= key.size()) {
    size_t end = key.find('/', start);
    if (end == std::string::npos) end = key.size();
    std::string part = key.substr(start, end - start);
    if (part.empty() || part == "." || part == "..")
      throw StorageError("bad object name \"" + key + "\"");
    start = end + 1;
  }
  for (char c : key) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-' || c == '/' || c == '+' || c == ' ';
    if (!ok) throw StorageError("bad character in object name \"" + key + "\"");
  }
}

namespace {
thread_local TransferLimit* current_limit = nullptr;
}

TransferLimit::TransferLimit(double seconds, const std::atomic<bool>* cancel)
    : deadline_(std::chrono::steady_clock::now() +
                std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                    std::chrono::duration<double>(seconds))),
      cancel_(cancel),
      outer_(current_limit) {
  current_limit = this;
}

TransferLimit::~TransferLimit() {
  current_limit = outer_;
}

bool TransferLimit::reached() {
  // Every enclosing limit counts: a call under a short per-call deadline must still stop when
  // an outer limit (a shutdown) says so.
  auto now = std::chrono::steady_clock::now();
  for (const TransferLimit* limit = current_limit; limit; limit = limit->outer_)
    if ((limit->cancel_ && *limit->cancel_) || now >= limit->deadline_) return true;
  return false;
}

void Storage::get_file(const std::string& bucket, const std::string& key, const std::string& path) {
  auto total = size(bucket, key);
  if (!total) throw StorageError("no object " + bucket + "/" + key);
  std::string temp = path + ".part";
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    if (!out) throw StorageError("cannot write " + temp);
    read(bucket, key, 0, *total, [&](const char* data, size_t n) {
      out.write(data, static_cast<std::streamsize>(n));
      return static_cast<bool>(out);
    });
    if (!out.flush()) throw StorageError("cannot write " + temp);
  }
  if (std::filesystem::file_size(temp) != static_cast<uintmax_t>(*total)) {
    std::remove(temp.c_str());
    throw StorageError("short download of " + bucket + "/" + key);
  }
  std::filesystem::rename(temp, path);
}

std::unique_ptr<Storage> make_storage(const StorageConfig& config) {
  if (config.backend == "fs") return std::make_unique<FsStorage>(config.root);
  if (config.backend == "s3") {
    if (config.endpoint.empty()) throw StorageError("the s3 backend needs an endpoint URL");
    return std::make_unique<S3Storage>(config);
  }
  throw StorageError("unknown storage backend \"" + config.backend + "\" (fs or s3)");
}

}  // namespace msaas::storage

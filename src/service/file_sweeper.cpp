// service/file_sweeper.cpp: see file_sweeper.h.
#include "service/file_sweeper.h"

#include "service/log.h"

namespace msaas::service {

namespace {

// A failed deletion comes due again after this long (a storage outage is not hammered).
constexpr int kRetrySeconds = 300;

}  // namespace

namespace {

// Deletes one listed file; false (logged) when storage refused.
bool delete_one(queue::Trash& trash, storage::Storage& storage, const ServiceConfig& config,
                const queue::TrashItem& item, double call_limit_s) {
  const std::string& bucket =
      item.kind == queue::FileKind::upload ? config.upload_bucket : config.output_bucket;
  try {
    storage::TransferLimit limit(call_limit_s);
    storage.remove(bucket, item.key);
    trash.forget(item.member);
    return true;
  } catch (const storage::StorageError& e) {
    log_warning("cannot delete " + bucket + "/" + item.key + " (tried again later): " + e.what());
    return false;
  }
}

}  // namespace

int sweep_trash(queue::Trash& trash, storage::Storage& storage, const ServiceConfig& config,
                int limit, double call_limit_s) {
  int deleted = 0;
  for (const auto& item : trash.take_due(queue::now_seconds(), limit, kRetrySeconds)) {
    // The items not reached come due again after kRetrySeconds.
    if (!delete_one(trash, storage, config, item, call_limit_s)) break;
    ++deleted;
  }
  return deleted;
}

int delete_files(queue::Trash& trash, storage::Storage& storage, const ServiceConfig& config,
                 const std::vector<queue::TrashItem>& items, double call_limit_s) {
  int deleted = 0;
  for (const auto& item : items) {
    if (!delete_one(trash, storage, config, item, call_limit_s)) break;
    ++deleted;
  }
  return deleted;
}

}  // namespace msaas::service

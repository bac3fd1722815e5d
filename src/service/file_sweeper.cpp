// service/file_sweeper.cpp: see file_sweeper.h.
#include "service/file_sweeper.h"

#include "queue/log.h"

namespace msaas::service {

namespace {

// A failed deletion comes due again after this long (a storage outage is not hammered).
constexpr int kRetrySeconds = 300;

}  // namespace

int sweep_trash(queue::Trash& trash, storage::Storage& storage, const ServiceConfig& config,
                int limit, double call_limit_s) {
  int deleted = 0;
  for (const auto& item : trash.take_due(queue::now_seconds(), limit, kRetrySeconds)) {
    const std::string& bucket =
        item.kind == queue::FileKind::upload ? config.upload_bucket : config.output_bucket;
    try {
      storage::TransferLimit limit_call(call_limit_s);
      storage.remove(bucket, item.key);
      trash.forget(item.member);
      ++deleted;
    } catch (const storage::StorageError& e) {
      queue::log_warning("cannot delete " + bucket + "/" + item.key + " (tried again in " +
                         std::to_string(kRetrySeconds) + " s): " + e.what());
    }
  }
  return deleted;
}

}  // namespace msaas::service

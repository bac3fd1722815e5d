// api/bucket_setup.cpp: see bucket_setup.h.
#include "api/bucket_setup.h"

#include <chrono>

#include "service/log.h"

namespace msaas::api {

BucketSetup::BucketSetup(storage::Storage& storage, std::vector<std::string> buckets)
    : storage_(storage), buckets_(std::move(buckets)) {}

BucketSetup::~BucketSetup() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    stopping_flag_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool BucketSetup::try_once() {
  try {
    for (const auto& bucket : buckets_) storage_.ensure_bucket(bucket);
    if (!last_error_.empty()) service::log_info("storage " + storage_.describe() + " is ready");
    done_ = true;
    attempted_ = true;
    return true;
  } catch (const std::exception& e) {
    // Said once per distinct reason, not every few seconds.
    if (e.what() != last_error_)
      service::log_error(std::string("storage not ready (retrying): ") + e.what());
    last_error_ = e.what();
    attempted_ = true;
    return false;
  }
}

bool BucketSetup::wait(double seconds) const {
  auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!attempted_ && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return done_;
}

void BucketSetup::start(double retry_seconds) {
  thread_ = std::thread([this, retry_seconds] {
    // A shutdown waits for this thread: a stalled storage call gives up when it is asked to.
    storage::TransferLimit limit(1e9, &stopping_flag_);
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      lock.unlock();
      bool ok = try_once();
      lock.lock();
      if (ok) return;
      wake_.wait_for(lock, std::chrono::duration<double>(retry_seconds),
                     [this] { return stopping_; });
    }
  });
}

}  // namespace msaas::api

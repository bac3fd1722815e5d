// api/bucket_setup.h: makes sure the upload and output buckets exist, in the background, until
// it succeeds. Storage that is not there yet (MinIO still starting) or refuses us (wrong
// credentials) must not stop the API from starting: it serves /healthz at once, /readyz says 503
// with the reason, and it becomes ready by itself once storage answers.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "storage/storage.h"

namespace msaas::api {

class BucketSetup {
 public:
  BucketSetup(storage::Storage& storage, std::vector<std::string> buckets);
  ~BucketSetup();  // stops retrying
  // Tries in a thread of its own, at once and then every `retry_seconds`, until every bucket
  // exists. Never blocks the caller: a storage that hangs must not keep the API from binding
  // its port or from stopping.
  void start(double retry_seconds = 5);
  bool done() const { return done_; }
  // Waits up to `seconds` for the first try's answer (a healthy start serves no upload before
  // the buckets exist; a refusing or hanging storage delays the start by that much at most).
  bool wait(double seconds) const;

 private:
  bool try_once();

  storage::Storage& storage_;
  std::vector<std::string> buckets_;
  std::atomic<bool> done_{false};
  std::string last_error_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::atomic<bool> stopping_flag_{false};  // the same, read by storage calls in flight
  std::atomic<bool> attempted_{false};      // the first try has an answer
  std::thread thread_;
};

}  // namespace msaas::api

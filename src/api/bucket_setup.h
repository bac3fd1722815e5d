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
  // Tries once now (so a healthy start is ready at once), then keeps trying every
  // `retry_seconds` in a thread of its own until every bucket exists.
  void start(double retry_seconds = 5);
  bool done() const { return done_; }

 private:
  bool try_once();

  storage::Storage& storage_;
  std::vector<std::string> buckets_;
  std::atomic<bool> done_{false};
  std::string last_error_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace msaas::api

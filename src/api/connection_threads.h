// api/connection_threads.h: the threads that serve connections, one per connection (cpp-httplib
// is blocking), started as connections come and kept for the next ones. A fixed pool let 64
// slow or long-lived clients (event streams, trickled heads) leave /healthz unanswered; here the
// connection caps (api/concurrency_caps.h) bound the threads, and refusing a connection over a
// cap takes a thread for 5 ms at most.
#pragma once

#include <httplib.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace msaas::api {

class ConnectionThreads : public httplib::TaskQueue {
 public:
  // `most`: threads never exceed this; beyond it connections wait their turn.
  explicit ConnectionThreads(size_t most) : most_(most) {}
  ~ConnectionThreads() override { shutdown(); }
  void enqueue(std::function<void()> task) override;
  // Runs what is queued, then joins every thread.
  void shutdown() override;

 private:
  void serve();
  const size_t most_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> tasks_;
  std::vector<std::thread> threads_;
  size_t idle_ = 0;
  bool stopping_ = false;
};

}  // namespace msaas::api

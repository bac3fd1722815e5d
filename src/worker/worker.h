// worker/worker.h: the queue consumer. Claims a job, fetches its upload, separates it, stores the
// stems and a zip, marks it done, calls back. A heartbeat thread keeps its lease alive, publishes
// the models it can run and, guarded by a Redis lock, reaps jobs of dead workers and deletes
// expired results. On stop it finishes the job within the grace period, else hands it back.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "msaas/engine.h"
#include "queue/jobs.h"
#include "service/config.h"
#include "storage/storage.h"

namespace msaas::worker {

class Worker {
 public:
  explicit Worker(service::ServiceConfig config);
  ~Worker();
  // Runs until request_stop(); returns the exit status.
  int run();
  // Safe from any thread (the signal-watching one): stop after the current job, or hand it
  // back once the grace period has passed.
  void request_stop();
  const std::string& id() const { return id_; }

 private:
  void heartbeat_loop();
  void housekeeping();
  void publish_models();
  void process(const queue::Claim& claim);
  void finish_successfully(const queue::Claim& claim, const struct JobResult& result,
                           double wall_seconds);
  const Separator& model(const std::string& name);
  bool wait_for_redis();
  bool wait_for_default_model();
  void mark_ready(bool ready);
  bool keep_going();

  service::ServiceConfig config_;
  std::string id_;
  queue::RedisPool pool_;
  queue::JobQueue queue_;
  std::unique_ptr<storage::Storage> storage_;
  std::string loaded_name_;
  std::unique_ptr<Separator> loaded_;
  std::atomic<bool> stop_{false};
  std::atomic<long long> stop_at_{0};
  std::atomic<bool> finished_{false};  // the loop has ended: the heartbeat thread stops too
};

}  // namespace msaas::worker

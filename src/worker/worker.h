// worker/worker.h: the queue consumer. Claims a job, fetches its upload, separates it, stores the
// stems, marks it done. A heartbeat thread does nothing but keep its lease and liveness
// file fresh (and say which models it has); a housekeeping thread reaps jobs of dead workers
// (under a Redis lock) and expires old jobs; a third deletes trash and sends callbacks. On stop it
// finishes the job within the grace period, else hands it back. While a job separates, its stems
// are published part by part for listeners (worker/live_parts.h).
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "msaas/engine.h"
#include "queue/jobs.h"
#include "queue/outbox.h"
#include "queue/trash.h"
#include "service/config.h"
#include "storage/storage.h"
#include "worker/scratch_folder.h"

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
  void chores_loop(void (Worker::*chore)(), const char* name);
  void housekeeping();
  void deliveries();
  void send_callbacks();
  void send_callback(const queue::OutboxEntry& entry);
  void hand_back(const queue::Claim& claim);
  void publish_models();
  void process(const queue::Claim& claim);
  // False when the run no longer owns the job (its stems are dropped).
  bool finish_successfully(const queue::Claim& claim, const struct JobResult& result,
                           double wall_seconds);
  void give_up_live_parts(class LiveParts& live);
  const Separator& model(const std::string& name);
  bool wait_for_redis();
  bool wait_for_default_model();
  void mark_ready(bool ready);
  bool keep_going();

  service::ServiceConfig config_;
  std::string id_;
  queue::RedisPool pool_;
  queue::JobQueue queue_;
  queue::Trash trash_;
  queue::Outbox outbox_;
  std::unique_ptr<storage::Storage> storage_;
  ScratchFolder scratch_;
  std::string loaded_name_;
  std::unique_ptr<Separator> loaded_;
  std::atomic<bool> stop_{false};
  std::atomic<long long> stop_at_{0};
  std::atomic<bool> finished_{false};  // the loop has ended: the heartbeat thread stops too
};

}  // namespace msaas::worker

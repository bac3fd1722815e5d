// api/api_context.h: what every route handler of msaas-api can reach: the settings, Redis (the
// queue, the trash), storage, access control, the event streams' watcher and caps, the counters.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "api/access.h"
#include "api/concurrency_caps.h"
#include "api/job_watcher.h"
#include "api/request_counter.h"
#include "queue/jobs.h"
#include "queue/trash.h"
#include "service/config.h"
#include "storage/storage.h"

namespace msaas::api {

struct ApiContext {
  service::ServiceConfig config;
  queue::RedisPool redis;
  queue::JobQueue jobs;
  queue::Trash trash;
  std::unique_ptr<storage::Storage> storage;
  RequestCounter requests;
  std::unique_ptr<AccessControl> access;
  std::atomic<int> uploads_in_flight{0};
  JobWatcher watcher;             // what event streams wait on
  ConcurrencyCaps event_streams;  // open event streams, in all and per key (or address)
  explicit ApiContext(service::ServiceConfig c);
  // Names of the models the live workers published; empty when no worker has spoken yet.
  std::vector<std::string> known_models();
};

}  // namespace msaas::api

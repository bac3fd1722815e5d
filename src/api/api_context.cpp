// api/api_context.cpp: see api_context.h.
#include "api/api_context.h"

#include "api/job_view.h"
#include "queue/model_registry.h"

namespace msaas::api {

ApiContext::ApiContext(service::ServiceConfig c)
    : config(std::move(c)),
      redis(config.redis_url),
      jobs(redis, config.queue),
      trash(redis),
      storage(storage::make_storage(config.storage)),
      access(std::make_unique<AccessControl>(config.api_keys_file, config.rate_limit, redis)),
      watcher(jobs, job_view),
      event_streams(config.max_event_streams, config.max_event_streams_per_client) {}

std::vector<std::string> ApiContext::known_models() {
  return queue::published_models(redis);
}

}  // namespace msaas::api

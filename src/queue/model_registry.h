// queue/model_registry.h: which models the live workers can run. Each worker keeps the key
// `models:<worker>` (JSON {"worker", "models"}) alive with its lease; the API reads the union to
// check a job's model before it is queued.
#pragma once

#include <string>
#include <vector>

#include "queue/redis.h"

namespace msaas::queue {

// Says what `worker` can run for the next `ttl_s` seconds (called with each heartbeat).
void publish_models(RedisPool& pool, const std::string& worker,
                    const std::vector<std::string>& names, int ttl_s);
// A worker stopping: its models go at once, not when they expire.
void withdraw_models(RedisPool& pool, const std::string& worker);
// The names every live worker published, sorted, each once; empty before any worker spoke.
std::vector<std::string> published_models(RedisPool& pool);

}  // namespace msaas::queue

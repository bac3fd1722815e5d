// queue/rate_counter.h: requests counted per client and minute, shared by every API replica
// (keys `rate:<client>:<minute>`, gone two minutes later).
#pragma once

#include <string>

#include "queue/redis.h"

namespace msaas::queue {

// Counts one request of `client` in the minute `minute` (seconds / 60); returns the count so far.
long long count_request(RedisPool& pool, const std::string& client, long long minute);

}  // namespace msaas::queue

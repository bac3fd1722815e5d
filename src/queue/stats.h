// queue/stats.h: the service's running totals for /metrics, in the hash `stats`: jobs done and
// failed (counted by the scripts that end them, scripts.h) and the seconds of audio separated
// and spent separating (counted by the worker that stored the stems).
#pragma once

#include "queue/redis.h"

namespace msaas::queue {

struct Totals {
  double done = 0;
  double failed = 0;
  double separation_seconds = 0;
  double audio_seconds = 0;
};

// Adds one finished separation's seconds.
void count_separation(RedisPool& pool, double separation_seconds, double audio_seconds);
Totals read_totals(RedisPool& pool);

}  // namespace msaas::queue

// tests/queue_fixture.h: a job queue on a private redis-server with a one-second lease, and the
// small readers the queue tests share.
#pragma once

#include <unistd.h>

#include "queue/jobs.h"
#include "service_support.h"

namespace msaas::test {

using nlohmann::json;

class QueueTest : public ::testing::Test {
 protected:
  QueueTest() : pool(redis.url()), jobs(pool, settings()) {}
  static queue::QueueSettings settings() {
    queue::QueueSettings s;
    s.lease_s = 1;
    s.max_attempts = 3;
    s.retention_s = 3600;
    return s;
  }
  queue::JobSpec spec(const std::string& hash, const std::string& format = "mp3") {
    queue::JobSpec s;
    s.hash = hash;
    s.upload = hash + "-0123456789abcdef.mp3";  // each submission's own, as the API names them
    s.settings.model = "htdemucs";
    s.settings.format = queue::parse_format(format);
    s.id = queue::job_id(s.hash, s.settings);
    return s;
  }
  long long length(const std::string& list) { return pool.command({"LLEN", list}).integer; }
  bool trash_has(const std::string& member) {
    return !pool.command({"ZSCORE", "trash", member}).is_nil();
  }
  // The reaper takes a worker's jobs only after two looks a lease apart (1 s here).
  int reap_after_a_lease() {
    pool.command({"DEL", "reaper:lock"});
    jobs.reap();
    usleep(1100 * 1000);
    pool.command({"DEL", "reaper:lock"});
    return jobs.reap();
  }

  RedisServer redis;
  queue::RedisPool pool;
  queue::JobQueue jobs;
  queue::Redis blocking{redis.url(), 5};
};

}  // namespace msaas::test

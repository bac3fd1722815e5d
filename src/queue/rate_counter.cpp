// queue/rate_counter.cpp: see rate_counter.h.
#include "queue/rate_counter.h"

#include "queue/keys.h"

namespace msaas::queue {

long long count_request(RedisPool& pool, const std::string& client, long long minute) {
  std::string key = keys::requests(client, minute);
  auto connection = pool.acquire();
  long long count = connection->command({"INCR", key}).integer;
  if (count == 1) connection->command({"EXPIRE", key, "120"});
  return count;
}

}  // namespace msaas::queue

// queue/log_list.cpp: see log_list.h.
#include "queue/log_list.h"

#include <sstream>

#include "queue/keys.h"

namespace msaas::queue {

void push_log_line(RedisPool& pool, const std::string& line) {
  auto connection = pool.acquire();
  connection->command({"LPUSH", keys::kLogging, line});
  connection->command({"LTRIM", keys::kLogging, "0", std::to_string(kLoggingCap - 1)});
}

std::optional<std::string> pop_log_line(Redis& redis, double timeout_s) {
  std::ostringstream timeout;
  timeout << timeout_s;
  auto reply = redis.command({"BRPOP", keys::kLogging, timeout.str()});
  if (reply.elements.size() != 2) return std::nullopt;
  return reply.elements[1].str;
}

}  // namespace msaas::queue

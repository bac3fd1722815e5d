// queue/log_list.h: the logging channel's Redis list `logging`: every program pushes its lines
// (`<host>.<program>.<level>:<message>`, service/log.h), `msaas logs` pops them like the
// original design's log printer. Capped: older lines are trimmed.
#pragma once

#include <optional>
#include <string>

#include "queue/redis.h"

namespace msaas::queue {

inline constexpr int kLoggingCap = 10000;

void push_log_line(RedisPool& pool, const std::string& line);
// The oldest line, waiting up to `timeout_s` for one; nothing when none came.
std::optional<std::string> pop_log_line(Redis& redis, double timeout_s);

}  // namespace msaas::queue

// service/log.h: the logging channel. Every program writes each line twice: as JSON on stderr (for
// container log collectors) and as `<host>.<program>.<level>:<message>` pushed on the Redis list
// `logging` (queue/log_list.h), which `msaas logs` follows like the original design's log printer.
#pragma once

#include <memory>
#include <string>

namespace msaas::queue {
class RedisPool;
}

namespace msaas::service {

enum class Level { debug, info, warning, error };

// Sets the program name and, when given, the Redis pool lines are pushed to. Call once at start.
void init_logging(const std::string& program, queue::RedisPool* redis);
void log(Level level, const std::string& message);
inline void log_info(const std::string& m) {
  log(Level::info, m);
}
inline void log_warning(const std::string& m) {
  log(Level::warning, m);
}
inline void log_error(const std::string& m) {
  log(Level::error, m);
}

}  // namespace msaas::service

// service/log.cpp: see log.h. Pushing to Redis is best effort: a log line must never fail a job.
#include "service/log.h"

#include <unistd.h>

#include <chrono>
#include <ctime>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>

#include "queue/log_list.h"

namespace msaas::service {

namespace {

std::string g_program = "msaas";
std::string g_host = "localhost";
queue::RedisPool* g_redis = nullptr;
std::mutex g_mutex;

const char* level_name(Level level) {
  switch (level) {
    case Level::debug:
      return "debug";
    case Level::info:
      return "info";
    case Level::warning:
      return "warning";
    case Level::error:
      return "error";
  }
  return "info";
}

std::string utc_now() {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", std::gmtime(&t));
  char out[40];
  std::snprintf(out, sizeof out, "%s.%03dZ", text, static_cast<int>(ms.count()));
  return out;
}

}  // namespace

void init_logging(const std::string& program, queue::RedisPool* redis) {
  char host[256] = "localhost";
  gethostname(host, sizeof host - 1);
  std::lock_guard lock(g_mutex);
  g_program = program;
  g_host = host;
  g_redis = redis;
}

void log(Level level, const std::string& message) {
  std::string program, host;
  queue::RedisPool* redis;
  {
    std::lock_guard lock(g_mutex);
    program = g_program;
    host = g_host;
    redis = g_redis;
    nlohmann::json line = {
        {"ts", utc_now()}, {"level", level_name(level)}, {"program", program}, {"msg", message}};
    std::cerr << line.dump() << "\n";
  }
  if (!redis) return;
  try {
    queue::push_log_line(*redis, host + "." + program + "." + level_name(level) + ":" + message);
  } catch (const std::exception&) {
    // Redis is down: stderr already has the line.
  }
}

}  // namespace msaas::service

// queue/redis.cpp: see redis.h.
#include "queue/redis.h"

#include <hiredis/hiredis.h>
#include <poll.h>
#include <strings.h>

#include <regex>

namespace msaas::queue {

RedisAddress parse_redis_url(const std::string& url) {
  static const std::regex pattern(
      R"(^redis://(?:([^:@/]*):([^@/]*)@)?([^:/]+)(?::(\d+))?(?:/(\d+))?/?$)");
  std::smatch m;
  if (!std::regex_match(url, m, pattern))
    throw RedisError("bad Redis URL \"" + url + "\" (redis://[:password@]host[:port][/db])");
  RedisAddress a;
  a.password = m[2];
  a.host = m[3];
  if (m[4].matched) a.port = std::stoi(m[4]);
  if (m[5].matched) a.db = std::stoi(m[5]);
  return a;
}

namespace {

Reply convert(const redisReply* r) {
  Reply out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = Reply::Type::string;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = Reply::Type::status;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = Reply::Type::integer;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = Reply::Type::array;
      for (size_t i = 0; i < r->elements; ++i) out.elements.push_back(convert(r->element[i]));
      break;
    default:
      break;
  }
  return out;
}

// Commands that give the same result when they run twice. Only these are sent again after a
// lost reply: the first copy may have run (a counter, a list push or a script would count twice).
bool safe_to_resend(const std::string& command) {
  static const char* idempotent[] = {
      "PING",   "GET",           "SET",   "DEL",     "EXISTS",   "EXPIRE", "TTL",
      "TYPE",   "HGET",          "HMGET", "HGETALL", "HSET",     "HDEL",   "LRANGE",
      "LLEN",   "LINDEX",        "LTRIM", "ZADD",    "ZREM",     "ZCARD",  "ZSCORE",
      "ZRANGE", "ZRANGEBYSCORE", "SADD",  "SREM",    "SMEMBERS", "SCAN",   "MGET",
      "INFO",   "SCRIPT",        "AUTH",  "SELECT",  "LPOS"};
  for (const char* name : idempotent)
    if (strcasecmp(name, command.c_str()) == 0) return true;
  return false;
}

// True when the server has closed our idle connection (restarted, or dropped idle clients):
// nothing is due on it, so anything readable is the end of the stream.
bool closed_by_peer(const redisContext* context) {
  pollfd p{context->fd, POLLIN, 0};
  return poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR));
}

timeval to_timeval(double seconds) {
  timeval tv;
  tv.tv_sec = static_cast<long>(seconds);
  tv.tv_usec = static_cast<long>((seconds - tv.tv_sec) * 1e6);
  return tv;
}

}  // namespace

Redis::Redis(const std::string& url, double timeout_s)
    : url_(url), address_(parse_redis_url(url)), timeout_s_(timeout_s) {}

Redis::~Redis() {
  if (context_) redisFree(context_);
}

void Redis::connect() {
  if (context_) redisFree(context_);
  context_ = redisConnectWithTimeout(address_.host.c_str(), address_.port, to_timeval(5.0));
  if (!context_ || context_->err) {
    std::string why = context_ ? context_->errstr : "out of memory";
    if (context_) redisFree(context_);
    context_ = nullptr;
    throw RedisError("cannot reach Redis at " + address_.host + ":" +
                     std::to_string(address_.port) + ": " + why);
  }
  redisSetTimeout(context_, to_timeval(timeout_s_));
  if (!address_.password.empty()) command({"AUTH", address_.password});
  if (address_.db) command({"SELECT", std::to_string(address_.db)});
}

Reply Redis::command(const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lengths.push_back(a.size());
  }
  // A connection the server closed while it sat idle is replaced before use, so the common
  // case (Redis restarted between two commands) needs no second copy of the command.
  if (context_ && closed_by_peer(context_)) {
    redisFree(context_);
    context_ = nullptr;
  }
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!context_) connect();
    auto* raw = static_cast<redisReply*>(
        redisCommandArgv(context_, static_cast<int>(argv.size()), argv.data(), lengths.data()));
    if (!raw) {
      // The connection broke while the command was out: it may or may not have run.
      std::string why = context_->errstr;
      redisFree(context_);
      context_ = nullptr;
      if (attempt == 1 || !safe_to_resend(args[0]))
        throw RedisError("Redis " + args[0] + ": " + why + " (the reply was lost)");
      continue;
    }
    std::unique_ptr<redisReply, decltype(&freeReplyObject)> reply(raw, freeReplyObject);
    if (raw->type == REDIS_REPLY_ERROR)
      throw RedisError("Redis " + args[0] + ": " + std::string(raw->str, raw->len));
    return convert(raw);
  }
  throw RedisError("Redis " + args[0] + ": unreachable");
}

Reply eval(Redis& redis, const std::string& script, const std::vector<std::string>& keys,
           const std::vector<std::string>& args) {
  std::vector<std::string> command{"EVAL", script, std::to_string(keys.size())};
  command.insert(command.end(), keys.begin(), keys.end());
  command.insert(command.end(), args.begin(), args.end());
  return redis.command(command);
}

RedisPool::Lease RedisPool::acquire() {
  {
    std::lock_guard lock(mutex_);
    if (!idle_.empty()) {
      auto redis = std::move(idle_.back());
      idle_.pop_back();
      return Lease(*this, std::move(redis));
    }
  }
  return Lease(*this, std::make_unique<Redis>(url_));
}

void RedisPool::give_back(std::unique_ptr<Redis> redis) {
  if (!redis) return;
  std::lock_guard lock(mutex_);
  if (idle_.size() < 16) idle_.push_back(std::move(redis));
}

}  // namespace msaas::queue

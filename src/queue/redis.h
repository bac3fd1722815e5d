// queue/redis.h: a small synchronous Redis client on hiredis: connect from a redis:// URL, send a
// command as a vector of strings, get the reply as plain values. A pool hands one connection to
// each thread that needs one, so the API's request threads never share a socket.
#pragma once

#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

struct redisContext;

namespace msaas::queue {

// Redis unreachable, or a command it refused; the message is one readable line.
class RedisError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Reply {
  enum class Type { nil, string, integer, array, status } type = Type::nil;
  std::string str;  // string and status replies
  long long integer = 0;
  std::vector<Reply> elements;
  bool is_nil() const { return type == Type::nil; }
};

struct RedisAddress {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string password;
  int db = 0;
};
// redis://[:password@]host[:port][/db]
RedisAddress parse_redis_url(const std::string& url);

class Redis {
 public:
  // `timeout_s` bounds connecting and each reply (blocking commands need a larger one).
  explicit Redis(const std::string& url, double timeout_s = 5.0);
  ~Redis();
  Redis(const Redis&) = delete;
  Redis& operator=(const Redis&) = delete;
  // Sends one command; reconnects once if the connection broke (and sends it again only when
  // running it twice does no harm: see safe_to_resend in redis.cpp). Throws RedisError on an error
  // reply or when Redis cannot be reached.
  Reply command(const std::vector<std::string>& args);

 private:
  void connect();
  std::string url_;
  RedisAddress address_;
  double timeout_s_;
  redisContext* context_ = nullptr;
};

// Runs a Lua script (EVAL): atomic on the server, never re-sent blindly after a lost reply.
Reply eval(Redis& redis, const std::string& script, const std::vector<std::string>& keys,
           const std::vector<std::string>& args);

// Connections for many threads: acquire() lends one, returned when the lease goes away.
class RedisPool {
 public:
  explicit RedisPool(std::string url) : url_(std::move(url)) {}
  class Lease {
   public:
    Lease(RedisPool& pool, std::unique_ptr<Redis> redis) : pool_(pool), redis_(std::move(redis)) {}
    ~Lease() { pool_.give_back(std::move(redis_)); }
    Redis* operator->() { return redis_.get(); }
    Redis& operator*() { return *redis_; }

   private:
    RedisPool& pool_;
    std::unique_ptr<Redis> redis_;
  };
  Lease acquire();
  // Shorthand for one command on a lent connection.
  Reply command(const std::vector<std::string>& args) { return acquire()->command(args); }
  const std::string& url() const { return url_; }

 private:
  void give_back(std::unique_ptr<Redis> redis);
  std::string url_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<Redis>> idle_;
};

}  // namespace msaas::queue

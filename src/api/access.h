// api/access.h: who may use the API and how often. Optional API keys (a file of `name:key`
// lines, e.g. a mounted Kubernetes Secret), sent as `Authorization: Bearer <key>` or, where a
// browser cannot set headers (event streams, download links), as `?access_token=<key>`. With
// keys on, every job belongs to the key that made it and is invisible to the others. A per-
// client rate limit (requests per minute, counted in Redis so all API replicas share it) answers
// 429 with Retry-After.
#pragma once

#include <httplib.h>

#include <map>
#include <optional>
#include <string>

#include "queue/redis.h"

namespace msaas::api {

class AccessControl {
 public:
  // Throws std::runtime_error when the keys file cannot be read or holds a weak key.
  AccessControl(const std::string& keys_file, int requests_per_minute, queue::RedisPool& redis);
  bool keys_enabled() const { return !keys_.empty(); }
  // The key's name for an authorised request ("" when keys are off); nothing when the request
  // carries no valid key.
  std::optional<std::string> owner(const httplib::Request& req) const;
  // For the API routes: true to go on; false when a 401 or 429 answer was written.
  bool admit(const httplib::Request& req, httplib::Response& res);

 private:
  std::map<std::string, std::string> keys_;  // key -> name
  int per_minute_;
  queue::RedisPool& redis_;
};

}  // namespace msaas::api

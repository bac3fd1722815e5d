// api/access.cpp: see access.h.
#include "api/access.h"

#include <openssl/crypto.h>

#include <fstream>
#include <stdexcept>

#include "api/http_util.h"
#include "queue/jobs.h"
#include "queue/rate_counter.h"
#include "service/log.h"

namespace msaas::api {

namespace {

std::string trim(const std::string& text) {
  size_t start = text.find_first_not_of(" \t\r\n");
  size_t end = text.find_last_not_of(" \t\r\n");
  return start == std::string::npos ? "" : text.substr(start, end - start + 1);
}

std::string presented_key(const httplib::Request& req) {
  std::string header = req.get_header_value("Authorization");
  if (header.rfind("Bearer ", 0) == 0) return trim(header.substr(7));
  if (req.has_param("access_token")) return req.get_param_value("access_token");
  return "";
}

}  // namespace

AccessControl::AccessControl(const std::string& keys_file, int requests_per_minute,
                             queue::RedisPool& redis)
    : per_minute_(requests_per_minute), redis_(redis) {
  if (keys_file.empty()) return;
  std::ifstream in(keys_file);
  if (!in) throw std::runtime_error("cannot read the API keys file " + keys_file);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    line = trim(line);
    if (line.empty() || line[0] == '#') continue;
    size_t colon = line.find(':');
    std::string name =
        colon == std::string::npos ? "key" + std::to_string(number) : trim(line.substr(0, colon));
    std::string key = colon == std::string::npos ? line : trim(line.substr(colon + 1));
    // An empty name would share ownership with keyless jobs.
    if (name.empty())
      throw std::runtime_error("line " + std::to_string(number) + " of the API keys file " +
                               keys_file + " has a key with no name (write name:key)");
    if (key.size() < 16)
      throw std::runtime_error("API key \"" + name + "\" in " + keys_file +
                               " is shorter than 16 characters");
    keys_[key] = name;
  }
  if (keys_.empty()) throw std::runtime_error("the API keys file " + keys_file + " has no keys");
}

std::optional<std::string> AccessControl::owner(const httplib::Request& req) const {
  if (keys_.empty()) return std::string();
  std::string given = presented_key(req);
  // Compared in constant time, so timing does not reveal how much of a key was right.
  for (const auto& [key, name] : keys_)
    if (key.size() == given.size() && CRYPTO_memcmp(key.data(), given.data(), key.size()) == 0)
      return name;
  return std::nullopt;
}

bool AccessControl::admit(const httplib::Request& req, httplib::Response& res) {
  auto who = owner(req);
  if (!who) {
    res.set_header("WWW-Authenticate", "Bearer realm=\"msaas\"");
    send_error(res, 401,
               presented_key(req).empty() ? "an API key is required "
                                            "(Authorization: Bearer <key>)"
                                          : "this API key is not valid");
    return false;
  }
  if (per_minute_ <= 0) return true;
  long long now = queue::now_seconds();
  std::string client = who->empty() ? "ip:" + req.remote_addr : "key:" + *who;
  if (queue::count_request(redis_, client, now / 60) <= per_minute_) return true;
  res.set_header("Retry-After", std::to_string(60 - now % 60));
  send_error(res, 429,
             "too many requests: the limit is " + std::to_string(per_minute_) + " per minute");
  return false;
}

}  // namespace msaas::api

// api/server.h: msaas-api's HTTP server: the route tables (api/routes.h) wired into cpp-httplib
// through the door of api/guarded_server.h, with JSON errors for unknown routes and failed
// handlers, each route's body budget, keys and rate limits, and request counting.
#pragma once

#include <httplib.h>

#include <atomic>
#include <regex>
#include <string>
#include <utility>
#include <vector>

#include "api/api_context.h"
#include "api/bucket_setup.h"
#include "api/guarded_server.h"
#include "api/route.h"
#include "service/config.h"

namespace msaas::api {

class ApiServer {
 public:
  explicit ApiServer(service::ServiceConfig config);
  // Binds and serves until stop(); returns false when the port could not be bound.
  bool listen();
  void stop();
  int port() const { return port_; }

 private:
  // Refusals decided from the head alone (over a connection cap, a body no route takes): true
  // when `res` holds the answer.
  bool refuse_at_the_door(const httplib::Request& req, httplib::Response& res);
  ApiContext context_;
  BucketSetup buckets_;
  GuardedServer server_;
  std::vector<Route> routes_;
  std::vector<std::pair<std::regex, std::string>> patterns_;  // route regex, method (for 405)
  std::atomic<int> port_{0};
  std::atomic<bool> stopping_{false};  // a stop before the server runs must still stop it
};

}  // namespace msaas::api

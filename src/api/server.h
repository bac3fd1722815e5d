// api/server.h: msaas-api: the HTTP server. Routes are declared in one table (path, method,
// summary, handler) that both the server and the OpenAPI document at /openapi.json are made from,
// so the two cannot drift apart.
#pragma once

#include <httplib.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <regex>
#include <string>
#include <vector>

#include "api/access.h"
#include "api/bucket_setup.h"
#include "api/concurrency_caps.h"
#include "api/guarded_server.h"
#include "api/job_watcher.h"
#include "queue/jobs.h"
#include "queue/trash.h"
#include "service/config.h"
#include "storage/storage.h"

namespace msaas::api {

struct Route {
  std::string method;   // GET, POST, DELETE
  std::string path;     // OpenAPI form: /v1/jobs/{id}
  std::string summary;  // one line for the OpenAPI document
  std::string tag;      // "v1", "apiv1", "ops"
  // One of the two: a plain handler, or one that streams the request body.
  httplib::Server::Handler handler;
  httplib::Server::HandlerWithContentReader reader_handler;
};

// Request counts by method and status, for /metrics.
class RequestCounter {
 public:
  void count(const std::string& method, int status);
  std::map<std::pair<std::string, int>, long long> snapshot();

 private:
  std::mutex mutex_;
  std::map<std::pair<std::string, int>, long long> counts_;
};

// What every route handler can reach.
struct ApiContext {
  service::ServiceConfig config;
  queue::RedisPool redis;
  queue::JobQueue jobs;
  queue::Trash trash;
  std::unique_ptr<storage::Storage> storage;
  RequestCounter requests;
  std::unique_ptr<AccessControl> access;
  std::atomic<int> uploads_in_flight{0};
  JobWatcher watcher;             // what event streams wait on
  ConcurrencyCaps event_streams;  // open event streams, in all and per key (or address)
  explicit ApiContext(service::ServiceConfig c);
  // Names of the models the live workers published; empty when no worker has spoken yet.
  std::vector<std::string> known_models();
};

std::vector<Route> v1_routes(ApiContext& context);
std::vector<Route> apiv1_routes(ApiContext& context);
std::vector<Route> ops_routes(ApiContext& context, const std::vector<Route>& all);

// The OpenAPI 3 document for a route table.
nlohmann::json openapi_document(const std::vector<Route>& routes);

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

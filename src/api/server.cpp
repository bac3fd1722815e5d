// api/server.cpp: see server.h.
#include "api/server.h"

#include <regex>

#include "api/body_budget.h"
#include "api/connection_threads.h"
#include "api/http_util.h"
#include "api/routes.h"
#include "service/log.h"

namespace msaas::api {

using nlohmann::json;

namespace {

// /v1/jobs/{id} -> ^/v1/jobs/([^/]+)$ (cpp-httplib matches whole paths with std::regex).
std::string path_regex(const std::string& path) {
  static const std::regex parameter(R"(\{[^}]+\})");
  std::string escaped = std::regex_replace(path, std::regex(R"(\.)"), R"(\.)");
  return std::regex_replace(escaped, parameter, "([^/]+)");
}

bool is_api_route(const httplib::Request& req) {
  return req.path.rfind("/v1/", 0) == 0 || req.path.rfind("/apiv1/", 0) == 0;
}

bool is_health_check(const httplib::Request& req) {
  return req.method == "GET" && (req.path == "/healthz" || req.path == "/readyz");
}

DoorLimits door_limits(const service::ServiceConfig& config) {
  DoorLimits limits;
  limits.head_timeout_s = config.head_timeout_s;
  limits.max_connections = config.max_connections;
  limits.max_per_address = config.max_connections_per_address;
  return limits;
}

}  // namespace

ApiServer::ApiServer(service::ServiceConfig config)
    : context_(std::move(config)),
      buckets_(*context_.storage, {context_.config.upload_bucket, context_.config.output_bucket}),
      server_(door_limits(context_.config)) {
  routes_ = v1_routes(context_);
  auto original = original_api_routes(context_);
  routes_.insert(routes_.end(), original.begin(), original.end());
  auto ops = ops_routes(context_, routes_);
  routes_.insert(routes_.end(), ops.begin(), ops.end());

  for (const auto& route : routes_) {
    std::string pattern = path_regex(route.path);
    patterns_.emplace_back(std::regex(pattern), route.method);
    if (route.method == "GET") server_.Get(pattern, route.handler);
    if (route.method == "DELETE") server_.Delete(pattern, route.handler);
    if (route.method == "POST") {
      if (route.reader_handler)
        server_.Post(pattern, route.reader_handler);
      else
        server_.Post(pattern, route.handler);
    }
  }
  // A thread per connection, up to the cap (event streams hold theirs while they last), and a
  // hundred more for the connections over the cap that are answered 503 (or a health check).
  int threads = context_.config.max_connections + 128;
  server_.new_task_queue = [threads] { return new ConnectionThreads(threads); };
  // httplib's own check of a Content-Length; the door's budgets (limit_body) are the real ones.
  server_.set_payload_max_length(
      upload_wire_budget("/apiv1/separate", context_.config.max_upload_bytes));
  server_.set_read_timeout(context_.config.request_timeout_s);
  server_.set_write_timeout(context_.config.request_timeout_s);
  // Headers and body go out in separate writes: without this, Nagle's algorithm holds the
  // body back until the client's delayed ACK (about 40 ms per small JSON answer).
  server_.set_tcp_nodelay(true);
  server_.set_keep_alive_timeout(std::min(5, context_.config.request_timeout_s));
  // httplib closes a connection after 5 requests by default: a busy client then reconnects
  // (a handshake, a thread hand-off) every fifth request.
  server_.set_keep_alive_max_count(100);
  // Keys and rate limits guard the API; the page, health checks and metrics stay open. Both run
  // before any of the body is read, as does the body's budget. A connection over a cap is
  // served health checks only.
  server_.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (refuse_at_the_door(req, res)) return httplib::Server::HandlerResponse::Handled;
    limit_body(req, context_.config);
    if (!is_api_route(req) || context_.access->admit(req, res))
      return httplib::Server::HandlerResponse::Unhandled;
    return httplib::Server::HandlerResponse::Handled;
  });
  // "Expect: 100-continue" is answered before routing: the same door first, so a refused
  // client is told before it sends its body (keys and rate limits are checked as it arrives).
  server_.set_expect_100_continue_handler(
      [this](const httplib::Request& req, httplib::Response& res) {
        if (refuse_at_the_door(req, res)) return res.status;
        // A missing or wrong key is told now (its rate is counted when the request is routed).
        if (is_api_route(req) && !context_.access->owner(req) && !context_.access->admit(req, res))
          return res.status;
        return 100;
      });
  server_.set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    if (auto refusal = GuardedServer::limit_refusal())
      return send_error(res, refusal->status, refusal->message);
    std::string allowed;
    if (res.status == 404)
      for (const auto& [pattern, method] : patterns_)
        if (std::regex_match(req.path, pattern) && allowed.find(method) == std::string::npos)
          allowed += (allowed.empty() ? "" : ", ") + method;
    if (!allowed.empty()) {
      res.set_header("Allow", allowed);
      send_error(res, 405, req.method + " is not allowed here (allowed: " + allowed + ")");
    } else if (res.status == 404)
      send_error(res, 404, "no such route: " + req.method + " " + req.path);
    else if (res.status == 413)
      send_error(res, 413, "the request body is larger than this server accepts");
    else
      send_error(res, res.status, "request failed (HTTP " + std::to_string(res.status) + ")");
  });
  server_.set_exception_handler(
      [](const httplib::Request& req, httplib::Response& res, std::exception_ptr failure) {
        std::string what = "unknown error";
        int status = 500;
        try {
          std::rethrow_exception(failure);
        } catch (const queue::RedisError& e) {
          what = std::string("the queue is unavailable: ") + e.what();
          status = 503;
        } catch (const storage::StorageError& e) {
          what = std::string("storage is unavailable: ") + e.what();
          status = 503;
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        service::log_error(req.method + " " + req.path + ": " + what);
        send_error(res, status, what);
      });
  server_.on_response([this](const httplib::Request& req, const httplib::Response& res) {
    context_.requests.count(req.method, res.status);
  });
}

bool ApiServer::refuse_at_the_door(const httplib::Request& req, httplib::Response& res) {
  if (GuardedServer::over_capacity() && !is_health_check(req)) {
    res.set_header("Retry-After", "5");
    res.set_header("Connection", "close");
    send_error(res, 503, "too many connections; try again in a few seconds");
    return true;
  }
  return refuse_body(req, res, context_.config.max_upload_bytes);
}

void ApiServer::stop() {
  stopping_ = true;
  context_.watcher.stop();  // event streams end
  server_.stop();
}

bool ApiServer::listen() {
  buckets_.start();
  buckets_.wait(2);  // bounded: storage that hangs or refuses only makes /readyz say 503
  if (context_.config.port == 0) {
    port_ = server_.bind_to_any_port(context_.config.host);
  } else {
    port_ = server_.bind_to_port(context_.config.host, context_.config.port) ? context_.config.port
                                                                             : -1;
  }
  if (port_ < 0) return false;
  server_.widen_backlog(context_.config.max_connections);
  if (stopping_) return true;
  service::log_info("listening on http://" + context_.config.host + ":" + std::to_string(port_) +
                    "/ (storage " + context_.storage->describe() + ")");
  return server_.listen_after_bind();
}

}  // namespace msaas::api

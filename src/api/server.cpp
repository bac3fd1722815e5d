// api/server.cpp: see server.h. Wires the route table into cpp-httplib, with JSON errors for
// unknown routes and failed handlers, request counting, and a thread pool large enough for
// long-lived event streams.
#include "api/server.h"

#include <regex>

#include "api/http_util.h"
#include "queue/log.h"

namespace msaas::api {

using nlohmann::json;

void RequestCounter::count(const std::string& method, int status) {
  std::lock_guard lock(mutex_);
  ++counts_[{method, status}];
}

std::map<std::pair<std::string, int>, long long> RequestCounter::snapshot() {
  std::lock_guard lock(mutex_);
  return counts_;
}

ApiContext::ApiContext(service::ServiceConfig c)
    : config(std::move(c)),
      redis(config.redis_url),
      jobs(redis, config.queue),
      trash(redis),
      storage(storage::make_storage(config.storage)),
      access(std::make_unique<AccessControl>(config.api_keys_file, config.rate_limit, redis)) {}

std::vector<std::string> ApiContext::known_models() {
  auto connection = redis.acquire();
  std::vector<std::string> names;
  std::string cursor = "0";
  do {
    auto page = connection->command({"SCAN", cursor, "MATCH", "models:*", "COUNT", "100"});
    cursor = page.elements[0].str;
    for (const auto& key : page.elements[1].elements) {
      auto value = connection->command({"GET", key.str});
      auto published = json::parse(value.str, nullptr, false);
      if (!published.is_object()) continue;
      for (const auto& m : published.value("models", json::array()))
        if (std::find(names.begin(), names.end(), m.get<std::string>()) == names.end())
          names.push_back(m.get<std::string>());
    }
  } while (cursor != "0");
  std::sort(names.begin(), names.end());
  return names;
}

namespace {

// /v1/jobs/{id} -> ^/v1/jobs/([^/]+)$ (cpp-httplib matches whole paths with std::regex).
std::string path_regex(const std::string& path) {
  static const std::regex parameter(R"(\{[^}]+\})");
  std::string escaped = std::regex_replace(path, std::regex(R"(\.)"), R"(\.)");
  return std::regex_replace(escaped, parameter, "([^/]+)");
}

// A body for a route that reads none, decided from the headers before a byte of it is read
// (cpp-httplib would otherwise read it whole into memory, whatever its size when it comes
// chunked). Uploads (POST /v1/jobs) stream and count their own; the original API's JSON needs
// its length announced (its limit is the payload limit); every other route takes no body, so
// anything past a small one is refused. The connection is closed: the body stays unread.
bool refuse_body(const httplib::Request& req, httplib::Response& res) {
  constexpr long long kSmallBody = 64 * 1024;
  bool chunked = req.get_header_value("Transfer-Encoding").find("chunked") != std::string::npos;
  long long length = 0;
  try {
    length = std::stoll("0" + req.get_header_value("Content-Length"));
  } catch (const std::exception&) {
    length = -1;  // unreadable: httplib refuses it on its own
  }
  if (req.method == "POST" && req.path == "/v1/jobs") return false;
  std::string error;
  int status = 413;
  if (req.method == "POST" && req.path == "/apiv1/separate") {
    if (!chunked) return false;
    status = 411;
    error = "send the JSON with a Content-Length (chunked bodies are not accepted here)";
  } else if (chunked || length > kSmallBody) {
    error = req.method + " " + req.path + " takes no body larger than " +
            std::to_string(kSmallBody) + " bytes";
  } else {
    return false;
  }
  res.set_header("Connection", "close");
  send_error(res, status, error);
  return true;
}

}  // namespace

ApiServer::ApiServer(service::ServiceConfig config)
    : context_(std::move(config)),
      buckets_(*context_.storage, {context_.config.upload_bucket, context_.config.output_bucket}) {
  routes_ = v1_routes(context_);
  auto original = apiv1_routes(context_);
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
  // Event streams hold a thread each while they last.
  server_.new_task_queue = [] { return new httplib::ThreadPool(64); };
  server_.set_payload_max_length(static_cast<size_t>(context_.config.max_upload_bytes) + (1 << 20));
  server_.set_read_timeout(context_.config.request_timeout_s);
  server_.set_write_timeout(context_.config.request_timeout_s);
  // Headers and body go out in separate writes: without this, Nagle's algorithm holds the
  // body back until the client's delayed ACK (about 40 ms per small JSON answer).
  server_.set_tcp_nodelay(true);
  server_.set_keep_alive_timeout(std::min(5, context_.config.request_timeout_s));
  // Keys and rate limits guard the API; the page, health checks and metrics stay open. Both run
  // before any of the body is read, as does the body's budget.
  server_.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (refuse_body(req, res)) return httplib::Server::HandlerResponse::Handled;
    bool api = req.path.rfind("/v1/", 0) == 0 || req.path.rfind("/apiv1/", 0) == 0;
    if (!api || context_.access->admit(req, res))
      return httplib::Server::HandlerResponse::Unhandled;
    return httplib::Server::HandlerResponse::Handled;
  });
  server_.set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
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
        queue::log_error(req.method + " " + req.path + ": " + what);
        send_error(res, status, what);
      });
  server_.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    context_.requests.count(req.method, res.status);
  });
}

void ApiServer::stop() {
  stopping_ = true;
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
  if (stopping_) return true;
  queue::log_info("listening on http://" + context_.config.host + ":" + std::to_string(port_) +
                  "/ (storage " + context_.storage->describe() + ")");
  return server_.listen_after_bind();
}

}  // namespace msaas::api

// api/guarded_server.cpp: see guarded_server.h.
#include "api/guarded_server.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <nlohmann/json.hpp>

namespace msaas::api {

namespace {

using Clock = std::chrono::steady_clock;

// A connection over a cap gets this long to send one request (a health check's head is short).
constexpr std::chrono::seconds kOverCapacityHead{2};

// The connection this thread is serving (httplib's handlers see only the request).
struct ConnectionState {
  ConnectionStream* stream = nullptr;
  bool reading_head = true;
  bool responded = false;
  bool close_after = false;
  bool over_capacity = false;
};
thread_local ConnectionState current;

bool has_body(const httplib::Request& req) {
  return req.get_header_value("Transfer-Encoding").find("chunked") != std::string::npos ||
         (req.has_header("Content-Length") && req.get_header_value("Content-Length") != "0");
}

// An answer written straight to the socket, for a request httplib could not read far enough to
// answer itself (its request line too long or too slow).
void write_refusal(ConnectionStream& stream, int status) {
  std::string message = status == 431 ? "the request head is larger than this server accepts"
                                      : "the request was not received in time";
  std::string body = nlohmann::json{{"error", message}}.dump();
  std::string reason = status == 431 ? "Request Header Fields Too Large" : "Request Timeout";
  std::string head =
      "HTTP/1.1 " + std::to_string(status) + " " + reason +
      "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\nConnection: close\r\n\r\n";
  std::string all = head + body;
  stream.write(all.data(), all.size());
}

}  // namespace

GuardedServer::GuardedServer(DoorLimits limits)
    : limits_(limits), connections_(limits.max_connections, limits.max_per_address) {
  // A refused body is left unread, so the connection cannot carry another request.
  set_post_routing_handler([](const httplib::Request& req, httplib::Response& res) {
    if (res.get_header_value("Connection") == "close" || (res.status >= 400 && has_body(req))) {
      res.set_header("Connection", "close");
      current.close_after = true;
    }
  });
  set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    current.responded = true;
    if (observer_) observer_(req, res);
  });
}

void GuardedServer::body_limits(uint64_t bytes, std::chrono::seconds deadline) {
  if (!current.stream) return;
  current.reading_head = false;
  current.stream->limit_reading(bytes, Clock::now() + deadline);
}

int GuardedServer::body_refusal_status() {
  if (!current.stream || current.reading_head) return 0;
  if (current.stream->over_budget()) return 413;
  if (current.stream->past_deadline()) return 408;
  return 0;
}

int GuardedServer::head_refusal_status() {
  if (!current.stream || !current.reading_head) return 0;
  if (current.stream->over_budget()) return 431;
  if (current.stream->past_deadline()) return 408;
  return 0;
}

void GuardedServer::widen_backlog(int backlog) {
  if (svr_sock_ != -1) ::listen(svr_sock_, backlog);  // Linux takes a new backlog this way
}

bool GuardedServer::peer_closed() {
  if (!current.stream) return false;
  pollfd p{current.stream->socket(), POLLRDHUP, 0};
  return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

bool GuardedServer::over_capacity() {
  return current.over_capacity;
}

bool GuardedServer::process_and_close_socket(int socket) {
  ConnectionStream stream(socket, static_cast<int>(read_timeout_sec_),
                          static_cast<int>(write_timeout_sec_), svr_sock_);
  std::string address;
  int port = 0;
  stream.get_remote_ip_and_port(address, port);
  auto ticket = connections_.take(address);
  current = ConnectionState{};
  current.stream = &stream;
  current.over_capacity = !ticket;
  serve_requests(socket, stream, ticket ? keep_alive_max_count_ : 1);
  current = ConnectionState{};
  ::shutdown(socket, SHUT_RDWR);
  ::close(socket);
  return true;
}

void GuardedServer::serve_requests(int socket, ConnectionStream& stream, size_t most) {
  auto head_time =
      current.over_capacity ? kOverCapacityHead : std::chrono::seconds(limits_.head_timeout_s);
  for (size_t served = 0; served < most; ++served) {
    if (served > 0 && !stream.has_buffered() && !wait_for_next_request(socket)) return;
    stream.limit_reading(limits_.head_bytes, Clock::now() + head_time);
    current.reading_head = true;
    current.responded = current.close_after = false;
    bool closed = false;
    bool ok = process_request(stream, served + 1 == most, closed, nullptr);
    if (!current.responded && head_refusal_status()) write_refusal(stream, head_refusal_status());
    if (!ok || closed || current.close_after || stream.over_budget() || stream.past_deadline())
      return;
  }
}

// Idle between requests: up to the keep-alive timeout, and not past a stop.
bool GuardedServer::wait_for_next_request(int socket) const {
  auto until = Clock::now() + std::chrono::seconds(keep_alive_timeout_sec_);
  while (Clock::now() < until && svr_sock_ != -1) {
    pollfd p{socket, POLLIN, 0};
    int ready = poll(&p, 1, 100);
    if (ready > 0) return (p.revents & POLLIN) != 0;
    if (ready < 0 && errno != EINTR) return false;
  }
  return false;
}

}  // namespace msaas::api

// api/guarded_server.cpp: see guarded_server.h.
#include "api/guarded_server.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

namespace msaas::api {

namespace {

using Clock = std::chrono::steady_clock;

// A connection over a cap is looked at this long for a complete health check's head (a probe
// sends it as soon as it connects); anything else gets 503 at once, so a flood over the caps
// holds each thread for milliseconds.
constexpr std::chrono::milliseconds kOverCapacityLook{5};
// Header lines in one head (httplib keeps each in a map: lines, not only bytes, cost memory).
constexpr uint64_t kMostHeadLines = 100;
// Unacknowledged data older than this fails the connection (a client that vanished without a
// word stops holding its event stream within a minute, not TCP's quarter of an hour).
constexpr unsigned kUnacknowledgedMs = 60 * 1000;
// After a refusal the client may still be sending its body: read and drop this much for this
// long before closing, so it gets our answer and not a reset.
constexpr size_t kDrainBytes = 1 << 20;
constexpr std::chrono::seconds kDrainTime{1};

// The connection this thread is serving (httplib's handlers see only the request).
struct ConnectionState {
  ConnectionStream* stream = nullptr;
  bool reading_head = true;
  bool responded = false;
  bool close_after = false;
  bool over_capacity = false;
};
thread_local ConnectionState current;

// -1 for a chunked body (its length is known only at its end), else the announced length.
long long announced_body(const httplib::Request& req) {
  if (req.has_header("Transfer-Encoding")) return -1;
  try {
    return std::stoll("0" + req.get_header_value("Content-Length"));
  } catch (const std::exception&) {
    return -1;
  }
}

// An answer written straight to the socket, for a request httplib could not read far enough to
// answer itself, or one over a cap.
void write_refusal(ConnectionStream& stream, int status, const std::string& message) {
  std::string body = nlohmann::json{{"error", message}}.dump();
  std::string reason = status == 431   ? "Request Header Fields Too Large"
                       : status == 408 ? "Request Timeout"
                       : status == 413 ? "Payload Too Large"
                                       : "Service Unavailable";
  std::string head =
      "HTTP/1.1 " + std::to_string(status) + " " + reason +
      "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\nConnection: close\r\n" + (status == 503 ? "Retry-After: 5\r\n" : "") + "\r\n";
  std::string all = head + body;
  stream.write(all.data(), all.size());
}

// Whether the connection's first bytes, looked at without reading them, are a whole health
// check (GET /healthz or /readyz).
bool health_check_waiting(int socket) {
  pollfd p{socket, POLLIN, 0};
  if (poll(&p, 1, static_cast<int>(kOverCapacityLook.count())) <= 0) return false;
  char head[2048];
  ssize_t n = recv(socket, head, sizeof head, MSG_PEEK | MSG_DONTWAIT);
  if (n <= 0 || !memmem(head, static_cast<size_t>(n), "\r\n\r\n", 4)) return false;
  std::string_view line(head, static_cast<size_t>(n));
  return line.rfind("GET /healthz ", 0) == 0 || line.rfind("GET /readyz ", 0) == 0;
}

// Closes after reading what the client may still be sending (up to a limit), so that an
// answer sent before its body was read reaches it instead of a reset. `patient`: wait a little
// for more (a client still uploading); else only what has arrived (refusing must stay cheap).
void close_draining(int socket, bool patient) {
  ::shutdown(socket, SHUT_WR);
  auto until = Clock::now() + kDrainTime;
  char sink[16384];
  for (size_t drained = 0; drained < kDrainBytes && Clock::now() < until;) {
    pollfd p{socket, POLLIN, 0};
    if (poll(&p, 1, patient ? 100 : 0) <= 0) break;  // a quiet client is not waited for
    ssize_t n = recv(socket, sink, sizeof sink, 0);
    if (n <= 0) break;
    drained += static_cast<size_t>(n);
  }
  ::close(socket);
}

}  // namespace

GuardedServer::GuardedServer(DoorLimits limits)
    : limits_(limits), connections_(limits.max_connections, limits.max_per_address) {
  // A connection carries another request only after a success whose body, if it announced
  // one, was read to its end: anything left unread would be taken for the next request.
  set_post_routing_handler([](const httplib::Request& req, httplib::Response& res) {
    long long body = announced_body(req);
    bool unread = body < 0 || (body > 0 && current.stream &&
                               current.stream->bytes_read() < static_cast<uint64_t>(body));
    if (res.get_header_value("Connection") == "close" || res.status >= 400 || unread) {
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

std::optional<GuardedServer::LimitRefusal> GuardedServer::limit_refusal() {
  if (!current.stream) return std::nullopt;
  std::string part = current.reading_head ? "head" : "body";
  if (current.stream->over_budget())
    return LimitRefusal{current.reading_head ? 431 : 413,
                        "the request " + part + " is larger than this server accepts"};
  if (current.stream->past_deadline())
    return LimitRefusal{408, "the request " + part + " was not received in time"};
  return std::nullopt;
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
  setsockopt(socket, IPPROTO_TCP, TCP_USER_TIMEOUT, &kUnacknowledgedMs, sizeof kUnacknowledgedMs);
  std::string address;
  int port = 0;
  stream.get_remote_ip_and_port(address, port);
  auto ticket = connections_.take(client_key(address));
  current = ConnectionState{};
  current.stream = &stream;
  current.over_capacity = !ticket;
  if (ticket || health_check_waiting(socket)) {
    serve_requests(socket, stream, ticket ? keep_alive_max_count_ : 1);
  } else {
    write_refusal(stream, 503, "too many connections; try again in a few seconds");
  }
  current = ConnectionState{};
  close_draining(socket, ticket != nullptr);
  return true;
}

void GuardedServer::serve_requests(int socket, ConnectionStream& stream, size_t most) {
  auto head_time = std::chrono::seconds(current.over_capacity ? 1 : limits_.head_timeout_s);
  for (size_t served = 0; served < most; ++served) {
    if (served > 0 && !stream.has_buffered() && !wait_for_next_request(socket)) return;
    stream.limit_reading(limits_.head_bytes, Clock::now() + head_time, kMostHeadLines);
    current.reading_head = true;
    current.responded = current.close_after = false;
    bool closed = false;
    bool ok = process_request(stream, served + 1 == most, closed, nullptr);
    if (auto refusal = limit_refusal(); refusal && !current.responded)
      write_refusal(stream, refusal->status, refusal->message);
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

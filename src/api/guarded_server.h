// api/guarded_server.h: cpp-httplib's server with the door a public API needs. Each connection
// is read through a ConnectionStream: the request head has a byte budget (32 KiB) and one
// deadline for all of it, and the body the budget and deadline its route sets from the
// pre-routing handler (GuardedServer::body_limits) before a byte of it is read. Connections are
// capped in all and per client address; a connection over a cap is answered 503 at once, unless
// its first bytes (looked at for 5 ms) are a whole health check: so /healthz and /readyz answer
// while everything else is refused.
#pragma once

#include <httplib.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "api/concurrency_caps.h"
#include "api/connection_stream.h"

namespace msaas::api {

struct DoorLimits {
  int head_timeout_s = 10;          // the whole request head
  int max_connections = 512;        // in all (each holds a thread)
  int max_per_address = 64;         // from one client address; 0: no cap
  uint64_t head_bytes = 32 * 1024;  // request line and headers together
};

class GuardedServer : public httplib::Server {
 public:
  explicit GuardedServer(DoorLimits limits);

  // What the request being served on this thread may still read (called from the pre-routing
  // handler, once the head is in and the route is known).
  static void body_limits(uint64_t bytes, std::chrono::seconds deadline);
  // Why the request on this thread could not be read, when one of its limits stopped it: 431
  // (the head's budget), 413 (the body's), 408 (either deadline), with words for the client.
  struct LimitRefusal {
    int status;
    std::string message;
  };
  static std::optional<LimitRefusal> limit_refusal();
  // The request on this thread came in over a connection cap: only health checks are served.
  static bool over_capacity();
  // The client of the request on this thread has hung up (checked without waiting).
  static bool peer_closed();
  // cpp-httplib listens with a backlog of 5: a burst of new connections (a page opening its
  // streams, a load balancer's health checks) then waits out one-second SYN retries. Call after
  // binding.
  void widen_backlog(int backlog);
  // Called after each response is written (request counting).
  void on_response(httplib::Logger observer) { observer_ = std::move(observer); }

 private:
  bool process_and_close_socket(int socket) override;
  void serve_requests(int socket, ConnectionStream& stream, size_t most);
  bool wait_for_next_request(int socket) const;
  DoorLimits limits_;
  ConcurrencyCaps connections_;
  httplib::Logger observer_;
};

}  // namespace msaas::api

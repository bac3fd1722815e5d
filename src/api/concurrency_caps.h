// api/concurrency_caps.h: how many of something one client, and all clients together, may hold
// at once: connections per client address, event streams per key. A Ticket holds one place
// while it lives; no ticket is given when either cap is reached (the caller answers 503).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace msaas::api {

// The client a peer address stands for: the address itself, or for IPv6 its /64 (one client
// usually has a whole /64 to itself).
std::string client_key(const std::string& address);

class ConcurrencyCaps {
 public:
  // 0 for per_client: no cap per client.
  ConcurrencyCaps(int total, int per_client) : total_(total), per_client_(per_client) {}

  class Ticket {
   public:
    Ticket(ConcurrencyCaps& caps, std::string client) : caps_(caps), client_(std::move(client)) {}
    ~Ticket() { caps_.release(client_); }
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;

   private:
    ConcurrencyCaps& caps_;
    std::string client_;
  };

  // A place for `client`, or null when the total or the client's own cap is reached.
  std::unique_ptr<Ticket> take(const std::string& client);
  int in_use() const;

 private:
  void release(const std::string& client);
  const int total_, per_client_;
  mutable std::mutex mutex_;
  int in_use_ = 0;
  std::map<std::string, int> by_client_;
};

}  // namespace msaas::api

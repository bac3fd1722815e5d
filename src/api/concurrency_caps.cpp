// api/concurrency_caps.cpp: see concurrency_caps.h.
#include "api/concurrency_caps.h"

#include <arpa/inet.h>

#include <cstring>

namespace msaas::api {

std::string client_key(const std::string& address) {
  in6_addr v6{};
  if (address.find(':') == std::string::npos || inet_pton(AF_INET6, address.c_str(), &v6) != 1 ||
      IN6_IS_ADDR_V4MAPPED(&v6))
    return address;
  std::memset(v6.s6_addr + 8, 0, 8);
  char text[INET6_ADDRSTRLEN] = "";
  inet_ntop(AF_INET6, &v6, text, sizeof text);
  return std::string(text) + "/64";
}

std::unique_ptr<ConcurrencyCaps::Ticket> ConcurrencyCaps::take(const std::string& client) {
  std::lock_guard lock(mutex_);
  if (in_use_ >= total_) return nullptr;
  int& mine = by_client_[client];
  if (per_client_ > 0 && mine >= per_client_) return nullptr;
  ++mine;
  ++in_use_;
  return std::make_unique<Ticket>(*this, client);
}

int ConcurrencyCaps::in_use() const {
  std::lock_guard lock(mutex_);
  return in_use_;
}

void ConcurrencyCaps::release(const std::string& client) {
  std::lock_guard lock(mutex_);
  --in_use_;
  if (--by_client_[client] <= 0) by_client_.erase(client);
}

}  // namespace msaas::api

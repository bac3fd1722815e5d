// api/concurrency_caps.cpp: see concurrency_caps.h.
#include "api/concurrency_caps.h"

namespace msaas::api {

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

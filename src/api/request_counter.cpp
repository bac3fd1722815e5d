// api/request_counter.cpp: see request_counter.h.
#include "api/request_counter.h"

namespace msaas::api {

void RequestCounter::count(const std::string& method, int status) {
  std::lock_guard lock(mutex_);
  ++counts_[{method, status}];
}

std::map<std::pair<std::string, int>, long long> RequestCounter::snapshot() {
  std::lock_guard lock(mutex_);
  return counts_;
}

}  // namespace msaas::api

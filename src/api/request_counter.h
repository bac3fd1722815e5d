// api/request_counter.h: requests answered, by method and status, for /metrics.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <utility>

namespace msaas::api {

class RequestCounter {
 public:
  void count(const std::string& method, int status);
  std::map<std::pair<std::string, int>, long long> snapshot();

 private:
  std::mutex mutex_;
  std::map<std::pair<std::string, int>, long long> counts_;
};

}  // namespace msaas::api

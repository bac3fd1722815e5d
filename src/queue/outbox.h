// queue/outbox.h: callbacks waiting to be sent. A job's end (done, failed, deadlettered) moves
// the callbacks of every submission of it into the sorted set `outbox` in the same step
// (scripts.h), so a worker that dies just after finishing loses none; a sender takes an entry,
// posts it and forgets it. An entry whose sender died comes due again: at least once.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "queue/redis.h"

namespace msaas::queue {

struct OutboxEntry {
  std::string member;               // as stored in `outbox`
  std::string job_id;               // whose end it reports
  nlohmann::ordered_json callback;  // {"api", "url", "data"?}: the submission's, as it gave it
};

class Outbox {
 public:
  explicit Outbox(RedisPool& pool) : pool_(pool) {}
  // Up to `limit` entries due by `now_s`, each pushed `retry_s` on while it is being sent.
  std::vector<OutboxEntry> take_due(long long now_s, int limit, int retry_s);
  // Sent (or given up on): no longer listed.
  void forget(const std::string& member);
  long long size();

 private:
  RedisPool& pool_;
};

// The text of one submission's callback as stored: {"api", "url", "data"?} (the data byte for
// byte as nlohmann parsed it from the caller).
std::string callback_text(const std::string& api, const nlohmann::ordered_json& callback);

}  // namespace msaas::queue

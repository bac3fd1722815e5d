// queue/outbox.h: callbacks waiting to be sent. A job's end (done, failed, deadlettered) moves
// the callbacks of every submission of it into the sorted set `outbox` in the same step, each
// with the job's end as it was then (scripts.h), so a worker that dies just after finishing
// loses none and a later change to the job does not change what the callback says. A sender
// takes an entry, posts it and forgets it; an entry whose sender died comes due again: at least
// once.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "queue/redis.h"

namespace msaas::queue {

struct OutboxEntry {
  std::string member;        // as stored in `outbox`
  std::string job_id;        // whose end it reports
  long long generation = 0;  // of the job's record then: a job removed and made again differs
  std::string api;           // the API the submission came through: "v1" or "apiv1"
  std::string url;           // where to post
  std::string data;          // apiv1: the caller's data, as the caller wrote it ("" when none)
  nlohmann::json ending;     // {"status", "error", "outputs"} when the job ended
};

class Outbox {
 public:
  explicit Outbox(RedisPool& pool) : pool_(pool) {}
  // Up to `limit` entries due by `now_s`, each pushed `retry_s` on while it is being sent.
  std::vector<OutboxEntry> take_due(long long now_s, int limit, int retry_s);
  // Sent (or given up on): no longer listed.
  void forget(const std::string& member);
  // A try failed: due again as many seconds after `now_s` as tries have failed so far (1 s,
  // 2 s, ...); returns that count.
  int failed_try(const std::string& member, long long now_s);
  long long size();

 private:
  RedisPool& pool_;
};

// The text of one submission's callback as stored: {"api", "url", "submission", "data"?}, the
// data as the caller wrote it (`raw_data`: JSON text, "" for none) and a random submission id
// so that two identical callbacks stay two.
std::string callback_text(const std::string& api, const std::string& url,
                          const std::string& raw_data);

}  // namespace msaas::queue

// worker/callback.h: telling a client its job ended (done or failed): one try of a POST of a JSON
// body to its URL with short timeouts (the worker spaces the tries out through the outbox). A
// callback that fails never fails the job.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "queue/job_record.h"
#include "queue/outbox.h"

namespace msaas::worker {

struct Delivery {
  enum class Outcome { delivered, failed, refused } outcome;
  std::string why;  // for failed and refused
};

// One try. Delivered on a 2xx answer; refused, without connecting, when the guard refuses the
// URL (service/callback_guard.h). Redirects are not followed. `job_status` goes in the
// X-MSaaS-Status header.
Delivery post_callback(const std::string& url, const std::string& json_body,
                       const std::string& job_status, bool allow_private, long timeout_s = 5);

// The body for one submission's callback: the original API posts the caller's data as the caller
// wrote it; /v1 posts the job's end as it was when it ended {"id", "status", "model", "stems" or
// "error"} (`record` gives the model).
std::string callback_body(const queue::JobRecord& record, const queue::OutboxEntry& entry);

}  // namespace msaas::worker

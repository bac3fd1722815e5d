// worker/callback.h: telling a client its job ended (done or failed): POST a JSON body to its URL
// with a short timeout and a few tries. A callback that fails is logged; it never fails the job.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "queue/outbox.h"

namespace msaas::worker {

// Returns true when the URL answered 2xx within `tries` attempts.
bool post_callback(const std::string& url, const std::string& json_body, int tries = 3,
                   long timeout_s = 5);

// The body for one submission's callback: the original API posts the caller's data as the caller
// wrote it; /v1 posts the job's end as it was when it ended {"id", "status", "model", "stems" or
// "error"} (`record` gives the model).
std::string callback_body(const nlohmann::json& record, const queue::OutboxEntry& entry);

}  // namespace msaas::worker

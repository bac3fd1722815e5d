// worker/callback.h: telling a client its job finished: POST a JSON body to its URL with a short
// timeout and a few tries. A callback that fails is logged; it never fails the job.
#pragma once

#include <string>

namespace msaas::worker {

// Returns true when the URL answered 2xx within `tries` attempts.
bool post_callback(const std::string& url, const std::string& json_body, int tries = 3,
                   long timeout_s = 5);

}  // namespace msaas::worker

// api/live_stem.h: a stem of a running job, streamed as it is separated. The answer is a WAV
// file whose header gives the whole song's length (16-bit PCM; sent chunked): the header and the
// parts already published go out at once, then each new part as the worker publishes it
// (worker/live_parts.h), until the stem is complete. To a player it is a file that arrives
// slowly: ffplay, mpv and the page play it as it comes.
#pragma once

#include <httplib.h>

#include <string>

#include "api/api_context.h"
#include "queue/job_record.h"

namespace msaas::api {

// Answers for `record` (its running_live() recorded); 404 for a stem it has not, 503
// past the long-lived streams' caps (shared with the event streams). The response is chunked
// (Range is not applied: 200, the whole file) and ends early, short of its length, if the job is
// deleted or fails, goes back to the queue (its next run's parts may be cut elsewhere: ask again
// then), or publishes nothing for 5 minutes.
void serve_live_stem(ApiContext& context, const httplib::Request& req, httplib::Response& res,
                     const queue::JobRecord& record, const std::string& stem);

// Who a long-lived stream (events, a live stem) counts against: the API key's name, or the
// client's address.
std::string stream_client(ApiContext& context, const httplib::Request& req);

// The 44-byte header of a 16-bit PCM WAV file of `frames` frames.
std::string wav_header(int64_t frames, int sample_rate, int channels);

}  // namespace msaas::api

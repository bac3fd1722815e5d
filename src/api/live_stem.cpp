// api/live_stem.cpp: see live_stem.h.
#include "api/live_stem.h"

#include <algorithm>
#include <chrono>

#include "api/guarded_server.h"
#include "api/http_util.h"
#include "api/job_view.h"
#include "service/log.h"

namespace msaas::api {

namespace {

void put_le(std::string& out, uint32_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

// Where one stream stands: the next part to send, and the run whose parts it sends.
struct LiveStream {
  std::string id, stem;
  long long run = 0;
  int next_part = 0;
  size_t sent = 0, length = 0;  // bytes of the whole WAV file
  std::string header;
  std::string last_view;
  std::chrono::steady_clock::time_point last_part = std::chrono::steady_clock::now();
};

// A stream whose job publishes nothing for this long ends (a worker stalled, or gone without
// the job being handed back yet): a WAV body has no room for keep-alives.
constexpr auto kQuietLimit = std::chrono::minutes(5);

enum class Step { sent, wait, end };

// Sends the next part if it is published; `end` when the stream cannot go on: the job was
// deleted or failed, went back to the queue (handed back, retried: the next run's parts may be
// cut at other places), or has been quiet too long.
Step send_next_part(ApiContext& context, LiveStream& s, httplib::DataSink& sink) {
  auto record = context.jobs.get(s.id);
  if (!record || !record->live || record->live->run != s.run || record->run != s.run)
    return Step::end;
  if (record->status != "running" && !record->done()) return Step::end;
  const auto& live = *record->live;
  if (live.parts <= s.next_part) {
    bool quiet = std::chrono::steady_clock::now() - s.last_part > kQuietLimit;
    return record->done() || quiet ? Step::end : Step::wait;
  }
  std::string key = live.part_key(s.id, s.stem, s.next_part);
  storage::TransferLimit limit(60);
  auto size = context.storage->size(context.config.output_bucket, key);
  if (!size) return Step::end;  // released: the run gave up, or the job is long done
  bool written = true;
  context.storage->read(context.config.output_bucket, key, 0, *size,
                        [&](const char* data, size_t n) {
                          s.sent += n;
                          return written = sink.write(data, n);
                        });
  if (!written) return Step::end;
  ++s.next_part;
  s.last_part = std::chrono::steady_clock::now();
  return Step::sent;
}

}  // namespace

std::string stream_client(ApiContext& context, const httplib::Request& req) {
  std::string owner = owner_of(context, req);
  return owner.empty() ? "address " + client_key(req.remote_addr) : "key " + owner;
}

std::string wav_header(int64_t frames, int sample_rate, int channels) {
  uint32_t data =
      static_cast<uint32_t>(std::min<int64_t>(frames * channels * 2, 0xffffffffLL - 36));
  std::string h = "RIFF";
  put_le(h, 36 + data, 4);
  h += "WAVEfmt ";
  put_le(h, 16, 4);
  put_le(h, 1, 2);  // PCM
  put_le(h, channels, 2);
  put_le(h, sample_rate, 4);
  put_le(h, sample_rate * channels * 2, 4);
  put_le(h, channels * 2, 2);
  put_le(h, 16, 2);
  h += "data";
  put_le(h, data, 4);
  return h;
}

void serve_live_stem(ApiContext& context, const httplib::Request& req, httplib::Response& res,
                     const queue::JobRecord& record, const std::string& stem) {
  const auto& live = *record.running_live();
  if (std::find(live.stems.begin(), live.stems.end(), stem) == live.stems.end())
    return send_error(res, 404, "job has no stem \"" + stem.substr(0, 64) + "\"");
  std::shared_ptr<ConcurrencyCaps::Ticket> place =
      context.event_streams.take(stream_client(context, req));
  if (!place) {
    res.set_header("Retry-After", "10");
    return send_error(res, 503, "too many streams are open; try again in a few seconds");
  }
  auto stream = std::make_shared<LiveStream>();
  stream->id = record.id;
  stream->stem = stem;
  stream->run = live.run;
  stream->header = wav_header(live.frames, live.sample_rate, live.channels);
  auto watch = std::make_shared<JobWatcher::Watch>(context.watcher, record.id);
  stream->length = stream->header.size() + static_cast<size_t>(live.frames) * live.channels * 2;
  res.set_header("Cache-Control", "no-store");
  res.set_header("X-Accel-Buffering", "no");
  res.set_header("Content-Disposition",
                 "inline; filename=\"" + record.hash.substr(0, 8) + "-" + stem + ".wav\"");
  // A Range header is ignored: 200 and the whole file from its start (RFC 9110 allows it;
  // players send `bytes=0-` and take the 200). Chunked: the WAV header tells the song's length.
  res.status = 200;
  res.set_header("Accept-Ranges", "none");
  res.set_chunked_content_provider(
      "audio/wav", [&context, stream, watch, place](size_t, httplib::DataSink& sink) {
        if (stream->sent == 0) {
          stream->sent = stream->header.size();
          return sink.write(stream->header.data(), stream->header.size());
        }
        for (;;) {
          if (GuardedServer::peer_closed()) return false;
          Step step;
          try {
            step = send_next_part(context, *stream, sink);
          } catch (const std::exception& e) {
            service::log_warning("live stream of job " + stream->id + " broke off: " + e.what());
            return false;
          }
          if (step == Step::sent) {
            if (stream->sent >= stream->length) sink.done();
            return true;
          }
          if (step == Step::end) return false;
          auto seen = watch->next(stream->last_view, std::chrono::seconds(1));
          if (seen.stopped || seen.gone) return false;
          stream->last_view = seen.view;
        }
      });
}

}  // namespace msaas::api

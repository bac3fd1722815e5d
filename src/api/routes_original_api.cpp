// api/routes_original_api.cpp: the original service's API, kept byte-compatible for its clients:
// POST /apiv1/separate (JSON with base64 "mp3"), the queue, track downloads (base.mp3 means
// bass.mp3) and track removal. A song is known by its hash (SHA-224 of the uploaded bytes),
// which queue/song_index.h maps to the job that separates it with the original settings.
#include "api/audio_sniff.h"
#include "api/http_util.h"
#include "api/job_view.h"
#include "api/openapi_schemas.h"
#include "api/routes.h"
#include "api/submit.h"
#include "api/upload.h"
#include "queue/raw_json.h"
#include "queue/song_index.h"

namespace msaas::api {

using nlohmann::json;

namespace {

void send_python_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(python_json(body), "application/json");
}

void separate(ApiContext& context, const httplib::Request& req, httplib::Response& res,
              const httplib::ContentReader& reader) {
  // The slot is taken before a byte of the body is read: the cap bounds what uploads hold.
  UploadSlot slot(context);
  if (!slot.granted()) return UploadSlot::refuse(res);
  auto received =
      receive_apiv1_upload(reader, context.config.spool_dir, context.config.max_upload_bytes);
  if (auto* refusal = std::get_if<UploadRefusal>(&received))
    return send_error(res, refusal->status, refusal->message);
  auto& [upload, members] = std::get<Apiv1Upload>(received);
  auto body = json::parse(members, nullptr, false);
  if (body.is_discarded() || !body.is_object())
    return send_error(res, 400, "the body must be a JSON object");
  Submission submission;
  SettingTexts texts;  // the original settings: four MP3 stems
  if (body.contains("model")) {
    if (!body["model"].is_string()) return send_error(res, 400, "\"model\" must be a string");
    texts.model = body["model"];
  }
  if (body.contains("callback") && !body["callback"].is_null()) {
    submission.callback = body["callback"];
    // The data goes back to the caller as it wrote it, not as a parser would print it again.
    auto callback = queue::raw_member(members, "callback");
    auto data = callback ? queue::raw_member(*callback, "data") : std::nullopt;
    if (data) submission.callback_data = std::string(*data);
    if (!data && body["callback"].is_object() && body["callback"].contains("data"))
      return send_error(res, 400, "\"callback.data\" could not be read as it was written");
  }
  if (auto problem = read_settings(context, texts, submission); !problem.empty())
    return send_error(res, 400, problem);
  if (!looks_like_audio(upload.path))
    return send_error(res, 415, "\"mp3\" is not an audio file MSaaS can read");
  if (auto why = truncation(upload.path)) return send_error(res, 400, "\"mp3\": " + *why);
  submission.owner = owner_of(context, req);
  auto result = submit_job(context, upload, submission, "apiv1");
  queue::remember_song(context.redis, submission.owner, upload.hash, result.id,
                       context.config.queue.retention_s);
  std::string reason =
      result.status == "done" ? "Song already separated" : "Song enqueued for separation";
  send_python_json(res, 200, {{"hash", upload.hash}, {"reason", reason}});
}

void queue_list(ApiContext& context, const httplib::Request& req, httplib::Response& res) {
  json hashes = json::array();
  std::string owner = owner_of(context, req);
  // The original answered LRANGE toWorker 0 -1: newest first.
  auto waiting = context.jobs.waiting();
  for (auto it = waiting.rbegin(); it != waiting.rend(); ++it)
    if (it->owner == owner) hashes.push_back(it->hash);
  send_python_json(res, 200, {{"queue", hashes}});
}

// The job record behind <songhash>/<track>, with the output entry for the track.
struct TrackLookup {
  queue::JobRecord record;
  queue::JobOutput output;
};

std::optional<TrackLookup> find_track(ApiContext& context, const httplib::Request& req,
                                      httplib::Response& res) {
  std::string hash = req.matches[1], track = req.matches[2];
  if (!is_song_hash(hash)) {
    send_error(res, 404, "no song \"" + hash.substr(0, 64) + "\" (hashes are 56 hex characters)");
    return std::nullopt;
  }
  if (track == "base.mp3") track = "bass.mp3";  // the original clients' name for the bass
  auto id = queue::find_song(context.redis, owner_of(context, req), hash);
  auto record = id ? context.jobs.get(*id) : std::nullopt;
  if (!record) {
    send_error(res, 404, "no song " + hash);
    return std::nullopt;
  }
  if (!record->done()) {
    send_error(res, 404, "song " + hash + " is " + record->status + ", its tracks are not ready");
    return std::nullopt;
  }
  auto* output = record->find_output(track);
  if (!output) {
    send_error(res, 404, "song " + hash + " has no track \"" + track.substr(0, 64) + "\"");
    return std::nullopt;
  }
  return TrackLookup{*record, *output};
}

void track(ApiContext& context, const httplib::Request& req, httplib::Response& res) {
  auto found = find_track(context, req, res);
  if (!found) return;
  serve_object(context, res, found->output.key, "audio/mpeg",
               std::string(req.matches[1]) + "-" + found->output.file_name());
}

void remove_track(ApiContext& context, const httplib::Request& req, httplib::Response& res) {
  auto found = find_track(context, req, res);
  if (!found) return;
  std::string key = found->output.key;
  if (context.jobs.drop_output(found->record.id, key))
    remove_files_now(context, {queue::trash_item(queue::FileKind::output, key)});
  send_python_json(res, 200,
                   {{"hash", std::string(req.matches[1])},
                    {"reason", "Track removed"},
                    {"track", std::string(req.matches[2])}});
}

}  // namespace

std::vector<Route> original_api_routes(ApiContext& c) {
  using Req = const httplib::Request&;
  using Res = httplib::Response&;
  std::vector<Answer> queue_answers = {json_answer(200, "Hashes, newest first", "SongQueue")};
  std::vector<Answer> removed_answers = {json_answer(200, "Removed", "TrackRemoved")};
  std::vector<Answer> track_answers = range_answers("audio/mpeg");
  track_answers.push_back(file_answer(200, "The track", "audio/mpeg"));
  return {
      {"POST",
       "/apiv1/separate",
       "Original API: enqueue a song given as base64 in JSON {\"mp3\", \"model\", \"callback\"}",
       "apiv1",
       nullptr,
       [&c](Req req, Res res, const httplib::ContentReader& reader) {
         separate(c, req, res, reader);
       },
       {json_answer(200, "Enqueued, or already separated", "SongAnswer"),
        json_answer(415, "Not an audio file", "Error")},
       {},
       song_upload_body()},
      {"GET", "/apiv1/queue", "Original API: song hashes waiting in the queue", "apiv1",
       [&c](Req req, Res res) { queue_list(c, req, res); }, nullptr, queue_answers},
      {"GET", "/apiv1/queue/", "Original API: the same, with a trailing slash", "apiv1",
       [&c](Req req, Res res) { queue_list(c, req, res); }, nullptr, queue_answers},
      {"GET",
       "/apiv1/track/{songhash}/{track}",
       "Original API: a separated track (vocals.mp3, drums.mp3, bass.mp3 or base.mp3, other.mp3)",
       "apiv1",
       [&c](Req req, Res res) { track(c, req, res); },
       nullptr,
       track_answers,
       {range_parameter()}},
      {"GET", "/apiv1/remove/{songhash}/{track}", "Original API: remove a track", "apiv1",
       [&c](Req req, Res res) { remove_track(c, req, res); }, nullptr, removed_answers},
      {"DELETE", "/apiv1/remove/{songhash}/{track}", "Original API: remove a track", "apiv1",
       [&c](Req req, Res res) { remove_track(c, req, res); }, nullptr, removed_answers},
  };
}

}  // namespace msaas::api

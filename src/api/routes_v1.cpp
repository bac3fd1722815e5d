// api/routes_v1.cpp: the /v1 API: jobs (create from a raw or multipart upload, status, progress
// events, stems with Range, zip, delete), the queue and the models.
#include <chrono>
#include <variant>

#include "api/guarded_server.h"
#include "api/http_util.h"
#include "api/job_view.h"
#include "api/live_stem.h"
#include "api/openapi_schemas.h"
#include "api/routes.h"
#include "api/submit.h"

namespace msaas::api {

using nlohmann::json;

namespace {

// The job named by the first path parameter, or an error answer already sent.
std::optional<queue::JobRecord> find_job(ApiContext& context, const httplib::Request& req,
                                         httplib::Response& res) {
  std::string id = req.matches[1];
  if (!is_job_id(id)) {
    send_error(res, 404, "no job \"" + id.substr(0, 64) + "\" (ids are 32 hex characters)");
    return std::nullopt;
  }
  auto record = context.jobs.get(id);
  if (!record || !visible_to(*record, owner_of(context, req))) {
    send_error(res, 404, "no job " + id);
    return std::nullopt;
  }
  return record;
}

std::string setting(const httplib::Request& req, const ReceivedUpload& upload,
                    const std::string& name, const std::string& fallback) {
  if (auto it = upload.fields.find(name); it != upload.fields.end()) return it->second;
  if (req.has_param(name)) return req.get_param_value(name);
  return fallback;
}

void create_job(ApiContext& context, const httplib::Request& req, httplib::Response& res,
                const httplib::ContentReader& reader) {
  UploadSlot slot(context);
  if (!slot.granted()) return UploadSlot::refuse(res);
  auto received =
      receive_upload(req, reader, context.config.spool_dir, context.config.max_upload_bytes);
  if (auto* refusal = std::get_if<UploadRefusal>(&received))
    return send_error(res, refusal->status, refusal->message);
  auto& upload = std::get<ReceivedUpload>(received);
  Submission submission;
  SettingTexts texts{setting(req, upload, "model", ""), setting(req, upload, "stems", "4"),
                     setting(req, upload, "format", "mp3")};
  submission.owner = owner_of(context, req);
  std::string callback = setting(req, upload, "callback_url", "");
  if (!callback.empty()) submission.callback = {{"url", callback}};
  if (auto problem = read_settings(context, texts, submission); !problem.empty())
    return send_error(res, 400, problem);
  auto result = submit_job(context, upload, submission, "v1");
  auto record = context.jobs.get(result.id);
  if (!record) record.emplace().id = result.id;  // deleted at once: the id is all there is
  res.set_header("Location", "/v1/jobs/" + result.id);
  send_json(res, result.created ? 201 : 200, job_view(*record));
}

std::string event_text(const std::string& name, const std::string& data) {
  return "event: " + name + "\ndata: " + data + "\n\n";
}

// Server-Sent Events: one `progress` event per change of the job, ending after `done` or
// `failed`; a comment every 15 s keeps proxies from closing a quiet stream. Streams wait on the
// one JobWatcher (api/job_watcher.h) and are capped in all and per client.
void job_events(ApiContext& context, const httplib::Request& req, httplib::Response& res) {
  auto record = find_job(context, req, res);
  if (!record) return;
  std::shared_ptr<ConcurrencyCaps::Ticket> place =
      context.event_streams.take(stream_client(context, req));
  if (!place) {
    res.set_header("Retry-After", "10");
    return send_error(res, 503, "too many event streams are open; try again in a few seconds");
  }
  std::string id = record->id;
  auto watch = std::make_shared<JobWatcher::Watch>(context.watcher, id);
  auto last = std::make_shared<std::string>();
  JobWatcher::Seen first;  // what the stream opens with: the record just read
  first.view = job_view(*record).dump();
  first.status = record->status;
  auto quiet_since = std::make_shared<std::chrono::steady_clock::time_point>();
  res.set_header("Cache-Control", "no-store");
  res.set_header("X-Accel-Buffering", "no");
  res.set_chunked_content_provider(
      "text/event-stream",
      [id, place, watch, last, first, quiet_since](size_t, httplib::DataSink& sink) {
        auto seen = last->empty() ? first : watch->next(*last, std::chrono::seconds(1));
        if (seen.stopped || GuardedServer::peer_closed()) return false;
        if (seen.gone) {
          std::string gone = event_text("deleted", "{\"id\": \"" + id + "\"}");
          sink.write(gone.data(), gone.size());
          sink.done();
          return true;
        }
        auto now = std::chrono::steady_clock::now();
        if (seen.view == *last) {
          if (now - *quiet_since < std::chrono::seconds(15)) return true;
          *quiet_since = now;
          return sink.write(": keep-alive\n\n", 14);
        }
        *last = seen.view;
        *quiet_since = now;
        std::string event = event_text("progress", seen.view);
        if (!sink.write(event.data(), event.size())) return false;
        if (seen.status == "done" || seen.status == "failed") sink.done();
        return true;
      });
}

// The done job named by the path, or an error already sent (409 while it is not done).
std::optional<queue::JobRecord> find_done_job(ApiContext& context, const httplib::Request& req,
                                              httplib::Response& res) {
  auto record = find_job(context, req, res);
  if (record && !record->done()) {
    send_error(res, 409, "job " + record->id + " is " + record->status + ", not done");
    return std::nullopt;
  }
  return record;
}

// A done job's stem in its format; a running job's as far as it is separated (live_stem.h).
void stem_file(ApiContext& context, const httplib::Request& req, httplib::Response& res) {
  auto record = find_job(context, req, res);
  if (!record) return;
  std::string stem = req.matches[2];
  if (record->running_live()) return serve_live_stem(context, req, res, *record, stem);
  if (record->status == "failed")
    return send_error(res, 409, "job " + record->id + " failed: it has no stems");
  if (!record->done()) {
    res.set_header("Retry-After", "2");
    return send_error(res, 409,
                      "job " + record->id + " is " + record->status +
                          ", not done, and none of its stems is separated yet");
  }
  auto* output = record->find_output(stem);
  if (!output) return send_error(res, 404, "job has no stem \"" + stem.substr(0, 64) + "\"");
  std::string type =
      output->content_type.empty() ? "application/octet-stream" : output->content_type;
  serve_object(context, res, output->key, type,
               record->hash.substr(0, 8) + "-" + output->file_name());
}

void stems_zip(ApiContext& context, const httplib::Request& req, httplib::Response& res) {
  auto record = find_done_job(context, req, res);
  if (!record) return;
  std::string download = record->hash.substr(0, 8) + "-stems.zip";
  // Jobs finished before zips were assembled on the fly have one stored.
  if (!record->zip.empty())
    return serve_object(context, res, record->zip, "application/zip", download);
  serve_zip(context, res, *record, download);
}

void delete_job(ApiContext& context, const httplib::Request& req, httplib::Response& res) {
  auto record = find_job(context, req, res);
  if (!record) return;
  if (auto removed = context.jobs.remove(record->id)) remove_files_now(context, removed->files);
  send_json(res, 200, {{"id", record->id}, {"deleted", true}});
}

void queue_state(ApiContext& context, const httplib::Request& req, httplib::Response& res) {
  json ids = json::array();
  std::string owner = owner_of(context, req);
  auto waiting = context.jobs.waiting();
  for (const auto& spec : waiting)
    if (spec.owner == owner) ids.push_back(spec.id);
  send_json(
      res, 200,
      {{"waiting", waiting.size()}, {"running", context.jobs.running_count()}, {"jobs", ids}});
}

void models(ApiContext& context, httplib::Response& res) {
  json list = json::array();
  for (const auto& name : context.known_models())
    list.push_back({{"name", name}, {"default", name == context.config.default_model}});
  send_json(res, 200, {{"default", context.config.default_model}, {"models", list}});
}

// A stem in the job's format, whole or a range of it.
std::vector<Answer> stem_answers() {
  std::vector<Answer> answers;
  for (const auto& format : queue::format_names()) {
    std::string type = queue::content_type(queue::parse_format(format));
    answers.push_back(file_answer(200,
                                  "The stem in the job's format; while the job runs, as 16-bit "
                                  "WAV (audio/wav) sent as it is separated: the header (the whole "
                                  "song's length) and what is ready at once, the rest as it comes",
                                  type));
    for (const auto& ranged : range_answers(type)) answers.push_back(ranged);
  }
  answers.push_back(
      json_answer(409, "The job is not done and nothing of it is separated yet", "Error"));
  answers.push_back(json_answer(503, "Too many streams open (a running job's stem)", "Error"));
  return answers;
}

std::vector<Answer> zip_answers() {
  std::vector<Answer> answers = range_answers("application/zip");
  answers.push_back(file_answer(200, "The zip", "application/zip"));
  answers.push_back(json_answer(409, "The job is not done", "Error"));
  answers.push_back(json_answer(422, "Larger than a zip can hold", "Error"));
  return answers;
}

}  // namespace

std::vector<Route> v1_routes(ApiContext& c) {
  using Req = const httplib::Request&;
  using Res = httplib::Response&;
  std::vector<Route> routes;
  Route create{"POST",
               "/v1/jobs",
               "Create a job from an upload: raw body or multipart/form-data (part \"file\"), "
               "settings model, stems (4, 6, two:<stem>), format (mp3, wav, flac), callback_url "
               "as query or form fields",
               "v1",
               nullptr,
               nullptr,
               {json_answer(201, "Job created", "Job"),
                json_answer(200, "The same upload with the same settings: the existing job", "Job"),
                json_answer(413, "Upload too large", "Error"),
                json_answer(415, "Not an audio file, or a compressed body", "Error"),
                json_answer(503, "Busy with other uploads, or storage unavailable", "Error")},
               job_setting_parameters(),
               job_upload_body()};
  create.reader_handler = [&c](Req req, Res res, const httplib::ContentReader& reader) {
    create_job(c, req, res, reader);
  };
  routes.push_back(create);
  routes.push_back({"GET",
                    "/v1/jobs/{id}",
                    "A job's status, progress, stage, stems and error",
                    "v1",
                    [&c](Req req, Res res) {
                      if (auto r = find_job(c, req, res)) send_json(res, 200, job_view(*r));
                    },
                    nullptr,
                    {json_answer(200, "The job", "Job")}});
  routes.push_back({"GET",
                    "/v1/jobs/{id}/events",
                    "Server-Sent Events: a progress event per change until done or failed",
                    "v1",
                    [&c](Req req, Res res) { job_events(c, req, res); },
                    nullptr,
                    {text_answer(200,
                                 "event: progress, data: the job (schema Job), per change; "
                                 "event: deleted when it goes",
                                 "text/event-stream")}});
  routes.push_back({"GET",
                    "/v1/jobs/{id}/stems/{stem}",
                    "One stem's audio: a done job's in its format (Range requests supported), a "
                    "running job's streamed as WAV while it is separated",
                    "v1",
                    [&c](Req req, Res res) { stem_file(c, req, res); },
                    nullptr,
                    stem_answers(),
                    {range_parameter()}});
  routes.push_back({"GET",
                    "/v1/jobs/{id}/stems.zip",
                    "All stems in one zip",
                    "v1",
                    [&c](Req req, Res res) { stems_zip(c, req, res); },
                    nullptr,
                    zip_answers(),
                    {range_parameter()}});
  routes.push_back({"DELETE",
                    "/v1/jobs/{id}",
                    "Delete a job and its stems",
                    "v1",
                    [&c](Req req, Res res) { delete_job(c, req, res); },
                    nullptr,
                    {json_answer(200, "Deleted", "Deleted")}});
  routes.push_back({"GET",
                    "/v1/queue",
                    "Jobs waiting (oldest first) and running",
                    "v1",
                    [&c](Req req, Res res) { queue_state(c, req, res); },
                    nullptr,
                    {json_answer(200, "The queue; jobs: this client's waiting jobs", "Queue")}});
  routes.push_back({"GET",
                    "/v1/models",
                    "Models the workers can run, and the default",
                    "v1",
                    [&c](Req, Res res) { models(c, res); },
                    nullptr,
                    {json_answer(200, "The models", "Models")}});
  return routes;
}

}  // namespace msaas::api

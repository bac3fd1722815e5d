// api/submit.cpp: see submit.h.
#include "api/submit.h"

#include <regex>

#include "api/http_util.h"
#include "queue/digest.h"
#include "queue/log.h"

namespace msaas::api {

std::string check_settings(ApiContext& context, JobSettings& s) {
  if (s.model.empty()) s.model = context.config.default_model;
  static const std::regex model_name("^[A-Za-z0-9_.-]{1,64}$");
  if (!std::regex_match(s.model, model_name)) return "bad model name \"" + s.model + "\"";
  auto known = context.known_models();
  // Workers publish what they can run; before any has, the worker reports a bad name instead.
  if (!known.empty() && std::find(known.begin(), known.end(), s.model) == known.end()) {
    std::string names;
    for (const auto& n : known) names += (names.empty() ? "" : ", ") + n;
    return "unknown model \"" + s.model + "\" (available: " + names + ")";
  }
  // The stems Demucs models have; whether this model has the chosen one, the worker knows.
  static const std::regex stems("^(4|6|two:(drums|bass|other|vocals|guitar|piano))$");
  if (!std::regex_match(s.stems, stems))
    return "stems must be 4, 6 or two:<stem> with a stem of drums, bass, other, vocals, guitar, "
           "piano (e.g. two:vocals), not \"" +
           s.stems + "\"";
  if (s.format != "mp3" && s.format != "wav" && s.format != "flac")
    return "format must be mp3, wav or flac, not \"" + s.format + "\"";
  if (!s.callback.is_null()) {
    static const std::regex url("^https?://[^\\s]{1,2000}$");
    if (!s.callback.is_object() || !s.callback.contains("url") || !s.callback["url"].is_string() ||
        !std::regex_match(s.callback["url"].get<std::string>(), url))
      return "callback url must be an http(s) URL";
  }
  return "";
}

UploadSlot::UploadSlot(ApiContext& context)
    : context_(context),
      granted_(++context.uploads_in_flight <= context.config.max_concurrent_uploads) {}

UploadSlot::~UploadSlot() {
  --context_.uploads_in_flight;
}

void UploadSlot::refuse(httplib::Response& res) {
  res.set_header("Retry-After", "10");
  send_error(res, 503, "the server is busy with other uploads; try again in a few seconds");
}

namespace {

// An upload stored for a job that never got recorded (the API died between storing and
// enqueueing) is trash after this long; a stored upload is normally taken within seconds.
constexpr long long kUploadHoldSeconds = 6 * 3600;

// Each submission stores its own copy under its own name: a job's removal deletes exactly its
// upload, never one a newer job of the same song depends on.
std::string upload_name(const ReceivedUpload& upload) {
  return upload.hash + "-" + queue::random_token() + "." + upload.extension;
}

}  // namespace

queue::EnqueueResult submit_job(ApiContext& context, const ReceivedUpload& upload,
                                const JobSettings& settings, const std::string& api) {
  queue::JobSpec spec;
  spec.hash = upload.hash;
  spec.model = settings.model;
  spec.stems = settings.stems;
  spec.format = settings.format;
  spec.api = api;
  if (settings.callback.is_object()) spec.callback_url = settings.callback.value("url", "");
  spec.callback_data = settings.callback_data;
  spec.owner = settings.owner;
  spec.id = queue::job_id(spec.hash, spec.model, spec.stems, spec.format, spec.owner);
  // An existing job needs no upload: asked first, without storing one.
  auto result = context.jobs.enqueue(spec);
  if (result.status == "needs-upload") {
    // Stored before it is queued, so a worker never takes a job whose upload is missing; held
    // in the trash until the job takes it, so a crash in between leaves nothing behind.
    spec.upload = upload_name(upload);
    context.trash.hold(queue::FileKind::upload, spec.upload,
                       queue::now_seconds() + kUploadHoldSeconds);
    context.storage->put_file(context.config.upload_bucket, spec.upload, upload.path.string(),
                              "application/octet-stream");
    result = context.jobs.enqueue(spec);
  }
  queue::log_info("job " + spec.id + (result.created ? " queued" : " already " + result.status) +
                  ": " + std::to_string(upload.size) + " bytes, " + spec.model + ", stems " +
                  spec.stems + ", " + spec.format + " (" + api + ")");
  return result;
}

}  // namespace msaas::api

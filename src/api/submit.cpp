// api/submit.cpp: see submit.h.
#include "api/submit.h"

#include <regex>

#include "api/http_util.h"
#include "common/digest.h"
#include "common/text.h"
#include "service/log.h"

namespace msaas::api {

std::string read_settings(ApiContext& context, const SettingTexts& texts, Submission& s) {
  std::string model = texts.model.empty() ? context.config.default_model : texts.model;
  if (!queue::is_model_name(model)) return "bad model name \"" + model + "\"";
  auto known = context.known_models();
  // Workers publish what they can run; before any has, the worker reports a bad name instead.
  // Whether the model has the chosen stems, the worker knows.
  if (!known.empty() && std::find(known.begin(), known.end(), model) == known.end())
    return "unknown model \"" + model + "\" (available: " + common::joined(known) + ")";
  try {
    s.settings = queue::JobSettings::parse(model, texts.stems, texts.format);
  } catch (const queue::SettingsError& e) {
    return e.what();
  }
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
  return upload.hash + "-" + common::random_token() + "." + upload.extension;
}

}  // namespace

queue::EnqueueResult submit_job(ApiContext& context, const ReceivedUpload& upload,
                                const Submission& submission, const std::string& api) {
  queue::JobSpec spec;
  spec.hash = upload.hash;
  spec.settings = submission.settings;
  spec.api = api;
  if (submission.callback.is_object()) spec.callback_url = submission.callback.value("url", "");
  spec.callback_data = submission.callback_data;
  spec.owner = submission.owner;
  spec.id = queue::job_id(spec.hash, spec.settings, spec.owner);
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
  service::log_info("job " + spec.id + (result.created ? " queued" : " already " + result.status) +
                    ": " + std::to_string(upload.size) + " bytes, " + spec.settings.model +
                    ", stems " + spec.settings.stems.text() + ", " +
                    queue::format_name(spec.settings.format) + " (" + api + ")");
  return result;
}

}  // namespace msaas::api

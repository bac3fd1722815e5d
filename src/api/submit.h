// api/submit.h: turning a received upload plus settings into a queued job: check the settings,
// store the upload in the `queue` bucket, enqueue (the same bytes and settings give the same
// job, so a repeated upload starts no second separation).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "api/api_context.h"
#include "api/upload.h"

namespace msaas::api {

// What a client asked for.
struct Submission {
  queue::JobSettings settings;
  nlohmann::json callback;    // null when none: {"url", "data"?}, as parsed (for the checks)
  std::string callback_data;  // the data as the caller wrote it (JSON text; "" for none)
  std::string owner;          // API key name ("" when keys are off)
};

// The settings' texts as a client gives them (query, form or JSON fields).
struct SettingTexts {
  std::string model;  // empty: the configured default
  std::string stems = "4";
  std::string format = "mp3";
};

// Holds one of the server's upload slots (MSAAS_MAX_CONCURRENT_UPLOADS) while it lives.
class UploadSlot {
 public:
  explicit UploadSlot(ApiContext& context);
  ~UploadSlot();
  bool granted() const { return granted_; }
  // The 503 answer for a request that got no slot.
  static void refuse(httplib::Response& res);

 private:
  ApiContext& context_;
  bool granted_;
};

// Reads the settings into `submission` with the one parser (queue/job_settings.h), then checks
// what only the API knows: the model is one the workers run, the callback an http(s) URL. An
// empty string when all can work, else why not (for a 400 answer).
std::string read_settings(ApiContext& context, const SettingTexts& texts, Submission& submission);

queue::EnqueueResult submit_job(ApiContext& context, const ReceivedUpload& upload,
                                const Submission& submission, const std::string& api);

}  // namespace msaas::api

// api/submit.h: turning a received upload plus settings into a queued job: check the settings,
// store the upload in the `queue` bucket, enqueue (the same bytes and settings give the same
// job, so a repeated upload starts no second separation).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "api/server.h"
#include "api/upload.h"

namespace msaas::api {

struct JobSettings {
  std::string model;  // empty: the configured default
  std::string stems = "4";
  std::string format = "mp3";
  nlohmann::json callback;    // null when none: {"url", "data"?}, as parsed (for the checks)
  std::string callback_data;  // the data as the caller wrote it (JSON text; "" for none)
  std::string owner;          // API key name ("" when keys are off)
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

// An empty string when the settings can work, else why not (for a 400 answer).
std::string check_settings(ApiContext& context, JobSettings& settings);

queue::EnqueueResult submit_job(ApiContext& context, const ReceivedUpload& upload,
                                const JobSettings& settings, const std::string& api);

}  // namespace msaas::api

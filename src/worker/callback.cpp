// worker/callback.cpp: see callback.h.
#include "worker/callback.h"

#include <curl/curl.h>

#include <chrono>
#include <memory>
#include <thread>

#include "queue/log.h"

namespace msaas::worker {

namespace {

size_t discard(char*, size_t size, size_t count, void*) {
  return size * count;
}

}  // namespace

bool post_callback(const std::string& url, const std::string& json_body, int tries,
                   long timeout_s) {
  for (int attempt = 1; attempt <= tries; ++attempt) {
    std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
    curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
    curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDS, json_body.c_str());
    curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDSIZE, static_cast<long>(json_body.size()));
    curl_easy_setopt(curl.get(), CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT, timeout_s);
    curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(curl.get(), CURLOPT_PROTOCOLS_STR, "http,https");
    CURLcode code = curl_easy_perform(curl.get());
    long status = 0;
    curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(headers);
    if (code == CURLE_OK && status >= 200 && status < 300) return true;
    queue::log_warning(
        "callback to " + url + " failed (try " + std::to_string(attempt) + " of " +
        std::to_string(tries) +
        "): " + (code != CURLE_OK ? curl_easy_strerror(code) : "HTTP " + std::to_string(status)));
    if (attempt < tries) std::this_thread::sleep_for(std::chrono::seconds(attempt));
  }
  return false;
}

std::string callback_body(const nlohmann::json& record, const queue::OutboxEntry& entry) {
  if (entry.api == "apiv1") return entry.data.empty() ? "{}" : entry.data;
  std::string status = entry.ending.value("status", "");
  nlohmann::json body = {
      {"id", entry.job_id}, {"status", status}, {"model", record.value("model", "")}};
  if (status == "done")
    body["stems"] = entry.ending.value("outputs", nlohmann::json::array());
  else
    body["error"] = entry.ending.value("error", "");
  return body.dump();
}

}  // namespace msaas::worker

// worker/callback.cpp: see callback.h.
#include "worker/callback.h"

#include <curl/curl.h>

#include <memory>

#include "service/callback_guard.h"
#include "service/log.h"

namespace msaas::worker {

namespace {

size_t discard(char*, size_t size, size_t count, void*) {
  return size * count;
}

}  // namespace

Delivery post_callback(const std::string& url, const std::string& json_body,
                       const std::string& job_status, bool allow_private, long timeout_s) {
  // Checked on every try: the name is resolved again, and the connection pinned to it.
  auto check = service::check_callback_url(url, allow_private);
  if (!check.target)
    return {check.temporary ? Delivery::Outcome::failed : Delivery::Outcome::refused,
            check.refusal};
  const auto& target = *check.target;
  // A name is pinned to the addresses checked; an address in the URL needs no pin.
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> pinned(
      target.literal ? nullptr : curl_slist_append(nullptr, target.pin().c_str()),
      curl_slist_free_all);
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> headers(
      curl_slist_append(nullptr, "Content-Type: application/json"), curl_slist_free_all);
  // The original API's body is the caller's data alone: the header tells done from failed.
  curl_slist_append(headers.get(), ("X-MSaaS-Status: " + job_status).c_str());
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  if (pinned) curl_easy_setopt(curl.get(), CURLOPT_RESOLVE, pinned.get());
  curl_easy_setopt(curl.get(), CURLOPT_PROXY, "");  // a proxy would resolve the name itself
  curl_easy_setopt(curl.get(), CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDS, json_body.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDSIZE, static_cast<long>(json_body.size()));
  curl_easy_setopt(curl.get(), CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(curl.get(), CURLOPT_CONNECTTIMEOUT, 2L);
  curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT, timeout_s);
  curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(curl.get(), CURLOPT_PROTOCOLS_STR, "http,https");
  CURLcode code = curl_easy_perform(curl.get());
  long status = 0;
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &status);
  if (code == CURLE_OK && status >= 200 && status < 300) return {Delivery::Outcome::delivered, ""};
  return {Delivery::Outcome::failed,
          code != CURLE_OK ? curl_easy_strerror(code) : "HTTP " + std::to_string(status)};
}

std::string callback_body(const queue::JobRecord& record, const queue::OutboxEntry& entry) {
  if (entry.api == "apiv1") return entry.data.empty() ? "{}" : entry.data;
  std::string status = entry.ending.value("status", "");
  nlohmann::json body = {
      {"id", entry.job_id}, {"status", status}, {"model", record.settings.model}};
  if (status == "done")
    body["stems"] = entry.ending.value("outputs", nlohmann::json::array());
  else
    body["error"] = entry.ending.value("error", "");
  return body.dump();
}

}  // namespace msaas::worker

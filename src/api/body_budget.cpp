// api/body_budget.cpp: see body_budget.h.
#include "api/body_budget.h"

#include <algorithm>
#include <chrono>

#include "api/guarded_server.h"
#include "api/http_util.h"

namespace msaas::api {

namespace {

std::string lowercase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), ::tolower);
  return text;
}

struct Refusal {
  int status = 0;
  std::string message;
};

// Framing the server reads one way and a proxy or cpp-httplib another is refused, not guessed.
Refusal check_framing(const httplib::Request& req) {
  size_t lengths = req.get_header_value_count("Content-Length");
  std::string length = req.get_header_value("Content-Length");
  for (size_t i = 1; i < lengths; ++i)
    if (req.get_header_value("Content-Length", i) != length)
      return {400, "the request has several different Content-Length headers"};
  if (lengths && (length.empty() || length.size() > 18 ||
                  !std::all_of(length.begin(), length.end(), ::isdigit)))
    return {400, "Content-Length must be a number of bytes"};
  if (req.has_header("Transfer-Encoding")) {
    if (lengths) return {400, "a request cannot have both Content-Length and Transfer-Encoding"};
    std::string coding = lowercase(req.get_header_value("Transfer-Encoding"));
    if (req.get_header_value_count("Transfer-Encoding") > 1 || coding != "chunked")
      return {501,
              "Transfer-Encoding \"" + coding.substr(0, 32) + "\" is not supported (only chunked)"};
  }
  std::string encoding = lowercase(req.get_header_value("Content-Encoding"));
  if (!encoding.empty() && encoding != "identity")
    // cpp-httplib would inflate it into memory with no limit: 64 KiB of gzip is 64 MiB.
    return {415, "compressed request bodies (Content-Encoding: " + encoding.substr(0, 32) +
                     ") are not accepted; send the bytes as they are"};
  return {};
}

}  // namespace

bool is_upload(const httplib::Request& req) {
  return req.method == "POST" && (req.path == "/v1/jobs" || req.path == "/apiv1/separate");
}

uint64_t upload_wire_budget(const std::string& path, long long max_upload_bytes) {
  auto song = static_cast<uint64_t>(max_upload_bytes);
  // base64 is 4/3 of the song, line breaks written as JSON escapes ("\r\n" per 76) 5 % more
  if (path == "/apiv1/separate") song = (song / 3 * 4 + 4) / 8 * 9;
  return song + song / 32 + (1 << 20);
}

bool refuse_body(const httplib::Request& req, httplib::Response& res, long long max_upload_bytes) {
  Refusal refusal = check_framing(req);
  if (!refusal.status) {
    bool chunked = req.has_header("Transfer-Encoding");
    long long length = std::stoll("0" + req.get_header_value("Content-Length"));
    if (is_upload(req)) {
      if (length > static_cast<long long>(upload_wire_budget(req.path, max_upload_bytes)))
        refusal = {413, "the upload is larger than the limit of " +
                            std::to_string(max_upload_bytes) + " bytes"};
    } else if (chunked || length > kSmallBody) {
      refusal = {413, req.method + " " + req.path + " takes no body larger than " +
                          std::to_string(kSmallBody) + " bytes"};
    }
  }
  if (!refusal.status) return false;
  res.set_header("Connection", "close");
  send_error(res, refusal.status, refusal.message);
  return true;
}

void limit_body(const httplib::Request& req, const service::ServiceConfig& config) {
  if (is_upload(req))
    GuardedServer::body_limits(upload_wire_budget(req.path, config.max_upload_bytes),
                               std::chrono::seconds(config.upload_timeout_s));
  else
    GuardedServer::body_limits(kSmallBody, std::chrono::seconds(config.head_timeout_s));
}

}  // namespace msaas::api

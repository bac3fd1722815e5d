// storage/s3_request.cpp: see s3_request.h.
#include "storage/s3_request.h"

#include <curl/curl.h>

#include <ctime>
#include <memory>
#include <regex>

#include "storage/sigv4.h"

namespace msaas::storage {

namespace {

// Percent-encodes a key for the URL path, keeping '/' (S3 object names are paths).
std::string encode_path(const std::string& key) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : key) {
    if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '/') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

struct Transfer {
  S3Request* request;
  CURL* curl;
  const ByteSink* sink;
  std::string error_body;
  bool stopped = false;
};

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t n = size * count;
  long status = 0;
  curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
  if (status < 200 || status >= 300 || !*t->sink) {
    if (t->error_body.size() < 4096) t->error_body.append(data, n);
    return n;
  }
  if (!(*t->sink)(data, n)) {
    t->stopped = true;
    return 0;  // makes curl stop with CURLE_WRITE_ERROR, which we then ignore
  }
  return n;
}

// Called by curl at least once a second, also while a peer sends nothing.
int on_progress(void*, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return TransferLimit::reached() ? 1 : 0;
}

size_t on_upload(char* buffer, size_t size, size_t count, void* user) {
  return std::fread(buffer, size, count, static_cast<std::FILE*>(user));
}

}  // namespace

S3Request::S3Request(const StorageConfig& config, const std::string& method,
                     const std::string& bucket, const std::string& key)
    : config_(config), method_(method) {
  std::string endpoint = config.endpoint;
  while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
  size_t scheme_end = endpoint.find("://");
  size_t host_begin = scheme_end == std::string::npos ? 0 : scheme_end + 3;
  host_ = endpoint.substr(host_begin, endpoint.find('/', host_begin) - host_begin);
  path_ = endpoint.substr(host_begin + host_.size()) + "/" + bucket;
  if (!key.empty()) path_ += "/" + encode_path(key);
  url_ = endpoint.substr(0, host_begin) + host_ + path_;
}

// Signs what is sent, and sends what is signed: the Host header is set here (not left to curl)
// so that both name the same authority.
void S3Request::sign(SigV4Request& request) {
  std::string date = amz_date(std::time(nullptr));
  request.method = method_;
  request.path = path_;
  request.headers["host"] = host_;
  request.headers["x-amz-date"] = date;
  request.headers["x-amz-content-sha256"] = request.payload_hash;
  for (const auto& line : headers_) {
    size_t colon = line.find(':');
    std::string name = line.substr(0, colon);
    for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    request.headers[name] = line.substr(colon + 1);
  }
  SigV4Key key{config_.access_key, config_.secret_key, config_.region};
  request.headers["authorization"] = sigv4_authorization(key, request, date);
}

S3Response S3Request::perform() {
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) throw StorageError("cannot start an HTTP request");
  CURL* c = curl.get();
  Transfer transfer{this, c, &sink_, {}};
  curl_easy_setopt(c, CURLOPT_URL, url_.c_str());
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
  // A stalled peer must not hang a worker: give up below 1 byte/s for 60 s.
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &transfer);
  // The payload is not hashed (bodies are streamed): SigV4's UNSIGNED-PAYLOAD marker.
  SigV4Request signed_request;
  sign(signed_request);
  curl_slist* list = nullptr;
  for (const auto& [name, value] : signed_request.headers)
    list = curl_slist_append(list, (name + ": " + value).c_str());
  if (method_ == "PUT") {
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, on_upload);
    curl_easy_setopt(c, CURLOPT_READDATA, upload_);
    curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(upload_size_));
    // Sent unsigned: a peer that checks signatures sees no Expect header named in SignedHeaders.
    list = curl_slist_append(list, "Expect:");
  } else if (method_ == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (method_ != "GET") {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method_.c_str());
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
  CURLcode code = curl_easy_perform(c);
  curl_slist_free_all(list);
  if (code == CURLE_ABORTED_BY_CALLBACK)
    throw StorageError("S3 " + method_ + " " + url_ + ": no answer in time");
  if (code != CURLE_OK && !(code == CURLE_WRITE_ERROR && transfer.stopped))
    throw StorageError("S3 " + method_ + " " + url_ + ": " + curl_easy_strerror(code));
  S3Response response;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &response.status);
  curl_off_t length = -1;
  curl_easy_getinfo(c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
  response.content_length = length;
  response.error_body = std::move(transfer.error_body);
  return response;
}

std::string describe_failure(const S3Response& response) {
  std::string text = "HTTP " + std::to_string(response.status);
  std::smatch m;
  static const std::regex code("<Code>([^<]*)</Code>"), message("<Message>([^<]*)</Message>");
  std::string detail;
  if (std::regex_search(response.error_body, m, code)) detail = m[1];
  if (std::regex_search(response.error_body, m, message)) detail += ": " + m[1].str();
  return detail.empty() ? text : text + " (" + detail + ")";
}

}  // namespace msaas::storage

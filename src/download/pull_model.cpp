// download/pull_model.cpp: `msaas models pull` (demucs/pretrained.py + repo.py's download and
// checksum): libcurl with resume, retries and SHA-256 checks; nothing unverified is ever left
// under a final name. See msaas/download.h.
#include <curl/curl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "msaas/download.h"
#include "msaas/engine.h"

namespace msaas {
namespace fs = std::filesystem;

std::string default_models_url() {
  if (const char* env = std::getenv("MSAAS_MODELS_URL"); env && *env) return env;
  return "https://dl.fbaipublicfiles.com/demucs/hybrid_transformer/";
}

namespace {

struct Transfer {
  std::FILE* out = nullptr;
  DownloadProgress progress;
  int64_t resumed = 0;
  const std::function<void(const DownloadProgress&)>* callback = nullptr;
  long status = 0;
  bool restart = false;  // the server ignored our Range: start the file again
};

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string line(data, size * count);
  if (line.rfind("HTTP/", 0) == 0) {
    t->status = std::atol(line.c_str() + line.find(' ') + 1);
    t->restart = t->resumed > 0 && t->status == 200;
  }
  return size * count;
}

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  if (t->status >= 400) return size * count;  // error pages are not written
  if (t->restart) {                           // full body after a Range request: drop what we had
    if (std::fflush(t->out) != 0 || ftruncate(fileno(t->out), 0) != 0) return 0;
    std::rewind(t->out);
    t->resumed = 0;
    t->restart = false;
  }
  return std::fwrite(data, size, count, t->out) * size;
}

int on_progress(void* user, curl_off_t total, curl_off_t now, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  t->progress.received = t->resumed + now;
  t->progress.total = total ? t->resumed + total : 0;
  if (t->callback && *t->callback) (*t->callback)(t->progress);
  return 0;
}

// One GET of `url` appended to `part`. Returns an empty string on success, else why not.
std::string fetch_once(const std::string& url, const fs::path& part, Transfer& t) {
  std::error_code ec;
  t.resumed = fs::exists(part, ec) ? static_cast<int64_t>(fs::file_size(part, ec)) : 0;
  t.out = std::fopen(part.c_str(), "ab");
  if (!t.out) return "cannot write " + part.string();
  CURL* curl = curl_easy_init();
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(curl, CURLOPT_RESUME_FROM_LARGE, static_cast<curl_off_t>(t.resumed));
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &t);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 30L);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1024L);  // give up below 1 KB/s ...
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, 60L);     // ... for a minute
  CURLcode rc = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(curl);
  bool closed = std::fclose(t.out) == 0;
  t.out = nullptr;
  if (status == 416) return "";  // nothing left to fetch: the part is complete
  if (rc != CURLE_OK) return curl_easy_strerror(rc);
  if (status >= 400) return "HTTP " + std::to_string(status);
  if (!closed) return "cannot write " + part.string();
  return "";
}

void pull_file(const std::string& file, const fs::path& folder, const std::string& url_root,
               const std::function<void(const DownloadProgress&)>& progress) {
  fs::path final_path = folder / file, part = folder / (file + ".part");
  std::error_code ec;
  if (fs::exists(final_path, ec)) {
    if (matches_checksum(final_path.string(), file)) return;
    fs::remove(final_path, ec);  // damaged: fetch it again
  }
  std::string url = url_root + (url_root.empty() || url_root.back() == '/' ? "" : "/") + file;
  Transfer t;
  t.progress.file = file;
  t.callback = &progress;
  std::string error;
  for (int attempt = 0; attempt < 4; ++attempt) {
    error = fetch_once(url, part, t);
    if (error.empty() || error.rfind("HTTP 4", 0) == 0) break;  // success, or not there at all
  }
  if (!error.empty()) {
    if (error.rfind("HTTP 4", 0) == 0) fs::remove(part, ec);
    throw ModelError("cannot download " + url + ": " + error +
                     (fs::exists(part, ec) ? " (run the command again to resume)" : ""));
  }
  if (!matches_checksum(part.string(), file)) {
    fs::remove(part, ec);
    throw ModelError("downloaded " + file + " does not match its checksum; removed it, try again");
  }
  fs::rename(part, final_path, ec);
  if (ec) throw ModelError("cannot write " + final_path.string() + ": " + ec.message());
}

}  // namespace

void pull_model(const NamedModel& model, const std::string& folder, const std::string& url_root,
                const std::function<void(const DownloadProgress&)>& progress) {
  std::error_code ec;
  fs::create_directories(folder, ec);
  if (ec) throw ModelError("cannot create models folder " + folder + ": " + ec.message());
  static const bool curl_ready = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
  if (!curl_ready) throw ModelError("cannot initialise libcurl");
  for (const auto& file : model.files) pull_file(file, folder, url_root, progress);
  fs::path yaml = fs::path(folder) / (model.name + ".yaml");
  fs::path temp = fs::path(folder) / ("." + model.name + ".yaml.part");
  std::ofstream(temp) << model.yaml;
  fs::rename(temp, yaml, ec);
  if (ec) throw ModelError("cannot write " + yaml.string() + ": " + ec.message());
}

}  // namespace msaas

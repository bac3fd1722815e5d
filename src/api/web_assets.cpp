// api/web_assets.cpp: see web_assets.h.
#include "api/web_assets.h"

#include <openssl/evp.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "api/http_util.h"
#include "api/page.h"
#include "common/digest.h"
#include "common/program_folder.h"

namespace msaas::api {

namespace fs = std::filesystem;

namespace {

const char* kOtherFiles = "application/octet-stream";

const std::map<std::string, std::string>& content_types() {
  static const std::map<std::string, std::string> types = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".png", "image/png"},
      {".svg", "image/svg+xml"},
  };
  return types;
}

std::string content_type(const fs::path& path) {
  auto found = content_types().find(path.extension().string());
  return found == content_types().end() ? kOtherFiles : found->second;
}

std::string etag_of(const std::string& body) {
  return "\"" + common::digest_hex(body, EVP_sha256()).substr(0, 16) + "\"";
}

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

std::vector<std::string> asset_content_types() {
  std::vector<std::string> types = {kOtherFiles};
  for (const auto& [ext, type] : content_types())
    if (ext != ".html") types.push_back(type.substr(0, type.find(';')));
  return types;
}

std::string default_web_folder() {
  try {
    return (fs::path(common::program_folder()) / "web").string();
  } catch (const fs::filesystem_error&) {
    return "web";
  }
}

WebAssets::WebAssets(const std::string& folder) {
  std::error_code ec;
  if (folder.empty() || !fs::is_regular_file(fs::path(folder) / "index.html", ec)) return;
  std::string html = slurp(fs::path(folder) / "index.html");
  index_ = {html, content_type("index.html"), etag_of(html)};
  for (const auto& entry : fs::directory_iterator(fs::path(folder) / "assets", ec)) {
    if (!entry.is_regular_file()) continue;
    std::string body = slurp(entry.path());
    assets_[entry.path().filename().string()] = {body, content_type(entry.path()), etag_of(body)};
  }
}

void WebAssets::send(const File& file, const std::string& cache, const httplib::Request& req,
                     httplib::Response& res) {
  res.set_header("Cache-Control", cache);
  res.set_header("ETag", file.etag);
  res.set_header("X-Content-Type-Options", "nosniff");
  if (req.get_header_value("If-None-Match") == file.etag) {
    res.status = 304;
    return;
  }
  res.set_content(file.body, file.content_type);
}

void WebAssets::serve_index(const httplib::Request& req, httplib::Response& res) const {
  if (!built()) {
    res.set_header("Cache-Control", "no-cache");
    res.set_content(index_page(), "text/html; charset=utf-8");
    return;
  }
  send(index_, "no-cache", req, res);
}

void WebAssets::serve_asset(const std::string& name, const httplib::Request& req,
                            httplib::Response& res) const {
  auto found = assets_.find(name);
  if (found == assets_.end()) return send_error(res, 404, "no such asset");
  send(found->second, "public, max-age=31536000, immutable", req, res);
}

}  // namespace msaas::api

// api/web_assets.h: the page's files (built by web/build.mjs into a folder: index.html and
// assets/<name>.<hash>.<ext>), read once at start and served from memory with caching headers:
// assets are named by content so browsers keep them for a year; index.html is revalidated
// every time (ETag), so an upgrade shows at once. Without the folder, a plain built-in page.
#pragma once

#include <httplib.h>

#include <map>
#include <string>
#include <vector>

namespace msaas::api {

class WebAssets {
 public:
  // Loads `folder`; an empty or missing folder leaves only the built-in page.
  explicit WebAssets(const std::string& folder);
  bool built() const { return !index_.body.empty(); }
  void serve_index(const httplib::Request& req, httplib::Response& res) const;
  // `name` as in /assets/<name>; 404 (JSON) when there is no such file.
  void serve_asset(const std::string& name, const httplib::Request& req,
                   httplib::Response& res) const;

 private:
  struct File {
    std::string body, content_type, etag;
  };
  static void send(const File& file, const std::string& cache, const httplib::Request& req,
                   httplib::Response& res);
  File index_;
  std::map<std::string, File> assets_;
};

// The content types the page's files are served with (for the OpenAPI document).
std::vector<std::string> asset_content_types();

// Where msaas-api looks for the page by default: a `web` folder beside the program.
std::string default_web_folder();

}  // namespace msaas::api

// api/http_util.cpp: see http_util.h.
#include "api/http_util.h"

#include <regex>

namespace msaas::api {

void send_json(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_header("Cache-Control", "no-store");
  res.set_content(body.dump() + "\n", "application/json");
}

void send_error(httplib::Response& res, int status, const std::string& message) {
  send_json(res, status, {{"error", message}});
}

bool is_job_id(const std::string& text) {
  static const std::regex pattern("^[0-9a-f]{32}$");
  return std::regex_match(text, pattern);
}

bool is_song_hash(const std::string& text) {
  static const std::regex pattern("^[0-9a-f]{56}$");
  return std::regex_match(text, pattern);
}

std::string python_json(const nlohmann::json& value) {
  if (value.is_object()) {
    std::string out = "{";
    bool first = true;
    for (const auto& [key, item] : value.items()) {
      if (!first) out += ", ";
      first = false;
      out += nlohmann::json(key).dump() + ": " + python_json(item);
    }
    return out + "}";
  }
  if (value.is_array()) {
    std::string out = "[";
    for (size_t i = 0; i < value.size(); ++i) out += (i ? ", " : "") + python_json(value[i]);
    return out + "]";
  }
  // Python escapes every non-ASCII character; nlohmann writes UTF-8 unless asked.
  return value.dump(-1, ' ', true);
}

}  // namespace msaas::api

// api/http_util.h: small helpers every route uses: JSON answers, JSON errors, the id checks that
// keep request paths from reaching anything but their own objects.
#pragma once

#include <httplib.h>

#include <nlohmann/json.hpp>
#include <string>

namespace msaas::api {

void send_json(httplib::Response& res, int status, const nlohmann::json& body);
// {"error": message} with a 4xx/5xx status.
void send_error(httplib::Response& res, int status, const std::string& message);

// A job id: 32 lowercase hex characters.
bool is_job_id(const std::string& text);
// A song hash: SHA-224, 56 lowercase hex characters.
bool is_song_hash(const std::string& text);

// JSON text the way Python's json.dumps writes it ({"a": 1, "b": [1, 2]}): the original API's
// clients compare these bytes.
std::string python_json(const nlohmann::json& value);

}  // namespace msaas::api

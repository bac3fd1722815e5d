// api/route.h: one route of the API as a table row: method, path, summary, handler, and the
// answers it gives. The server (api/server.cpp) and the OpenAPI document (api/openapi.cpp) are
// both made from the same rows, so the two cannot drift apart.
#pragma once

#include <httplib.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace msaas::api {

// An answer a route gives, for the OpenAPI document (errors common to all routes are added
// there). `schema` describes the body; for JSON, usually a reference to a shared component
// (openapi_schemas.h).
struct Answer {
  int status;
  std::string description;
  std::string content_type;  // application/json, audio/mpeg, text/event-stream, ...
  nlohmann::json schema;
};

struct Route {
  std::string method;   // GET, POST, DELETE
  std::string path;     // OpenAPI form: /v1/jobs/{id}
  std::string summary;  // one line for the OpenAPI document
  std::string tag;      // "v1", "apiv1", "ops"
  // One of the two: a plain handler, or one that streams the request body.
  httplib::Server::Handler handler;
  httplib::Server::HandlerWithContentReader reader_handler;
  std::vector<Answer> answers;  // what it answers when all goes well, and its own errors
  // What it reads besides its path: OpenAPI parameter objects (query, headers) and requestBody.
  std::vector<nlohmann::json> parameters = {};
  nlohmann::json request_body = nullptr;
};

}  // namespace msaas::api

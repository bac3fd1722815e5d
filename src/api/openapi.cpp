// api/openapi.cpp: see openapi.h. Made from the route table itself: each route's own answers
// (api/route.h) plus the errors every route can give.
#include "api/openapi.h"

#include <algorithm>
#include <regex>

#include "api/openapi_schemas.h"

namespace msaas::api {

using nlohmann::json;

namespace {

json error_response(const std::string& why) {
  return {{"description", why},
          {"content", {{"application/json", {{"schema", schema_ref("Error")}}}}}};
}

// Adds a route's own answer; answers with one status and several content types (a stem in MP3,
// WAV or FLAC) share one entry.
void add_answer(json& responses, const Answer& answer) {
  json& entry = responses[std::to_string(answer.status)];
  bool common_error = entry.contains("content") && entry["content"].contains("application/json") &&
                      entry["content"]["application/json"]["schema"] == schema_ref("Error");
  if (!entry.contains("description") || common_error) entry = {{"description", answer.description}};
  if (answer.content_type.empty()) return;  // no body (304)
  entry["content"][answer.content_type] = {{"schema", answer.schema}};
}

json operation(const Route& route) {
  json op = {{"summary", route.summary},
             {"tags", {route.tag}},
             {"operationId", route.method + " " + route.path},
             {"responses",
              {{"400", error_response("Bad request")},
               {"404", error_response("Not found")},
               {"405", error_response("This path does not take this method (see Allow)")},
               {"408", error_response("The request head or body was not received in time")},
               {"413", error_response("The request body is larger than this route accepts")},
               {"415", error_response("A compressed body (Content-Encoding) is not accepted")},
               {"431", error_response("The request head is larger than 32 KiB")},
               {"500", error_response("The server failed (the log says why)")},
               {"501", error_response("A Transfer-Encoding other than chunked")},
               {"503", error_response("Redis or storage unavailable, or too many connections "
                                      "from this client; see Retry-After")}}}};
  json parameters = json::array();
  static const std::regex parameter(R"(\{([^}]+)\})");
  for (std::sregex_iterator it(route.path.begin(), route.path.end(), parameter), end; it != end;
       ++it)
    parameters.push_back({{"name", (*it)[1].str()},
                          {"in", "path"},
                          {"required", true},
                          {"schema", {{"type", "string"}}}});
  if (route.tag != "ops") {  // the API routes: keys and rate limits apply
    op["responses"]["401"] = error_response("API key missing or not valid (when keys are on)");
    op["responses"]["429"] = error_response("Too many requests; see Retry-After");
    op["security"] = json::array({json::object(), {{"bearer", json::array()}}});
  }
  for (const auto& extra : route.parameters) parameters.push_back(extra);
  if (!route.request_body.is_null()) op["requestBody"] = route.request_body;
  for (const auto& answer : route.answers) add_answer(op["responses"], answer);
  if (!parameters.empty()) op["parameters"] = parameters;
  return op;
}

std::string lowercase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), ::tolower);
  return text;
}

}  // namespace

json openapi_document(const std::vector<Route>& routes) {
  json paths = json::object();
  for (const auto& route : routes) paths[route.path][lowercase(route.method)] = operation(route);
  return {{"openapi", "3.0.3"},
          {"info",
           {{"title", "MSaaS: Music-Separation-as-a-Service"},
            {"version", MSAAS_VERSION_TEXT},
            {"description",
             "Upload a song, get its stems (Demucs v4). /v1 is the current API; /apiv1 keeps the "
             "original service's clients working."}}},
          {"components",
           {{"schemas", schema_components()},
            {"securitySchemes", {{"bearer", {{"type", "http"}, {"scheme", "bearer"}}}}}}},
          {"paths", paths}};
}

}  // namespace msaas::api

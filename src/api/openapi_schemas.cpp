// api/openapi_schemas.cpp: see openapi_schemas.h. The job's schema comes from api/job_view.h;
// the others are written here beside an example each, and tests/openapi_contract_test.cpp checks
// every real answer against them.
#include "api/openapi_schemas.h"

#include <utility>
#include <vector>

#include "api/job_view.h"
#include "queue/job_settings.h"

namespace msaas::api {

using nlohmann::json;

namespace {

json object(const json& properties, const json& required, const json& example) {
  return {
      {"type", "object"}, {"properties", properties}, {"required", required}, {"example", example}};
}

json string_list() {
  return {{"type", "array"}, {"items", {{"type", "string"}}}};
}

const std::string kJobId = "8c1f0a3e5b7d49e2a6c4f1b3d5e7a9c1";
const std::string kSongHash = "3b1f7d2c9e4a6b8d0f2e4c6a8b0d2f4e6a8c0e2f4b6d8a0c2e4f6b8d";

}  // namespace

json schema_ref(const std::string& name) {
  return {{"$ref", "#/components/schemas/" + name}};
}

json schema_components() {
  json schemas = json::object();
  schemas["Job"] = job_schema();
  schemas["Error"] = object({{"error", {{"type", "string"}}}}, {"error"},
                            {{"error", "no job \"x\" (ids are 32 hex characters)"}});
  schemas["Queue"] =
      object({{"waiting", {{"type", "integer"}}},
              {"running", {{"type", "integer"}}},
              {"jobs", string_list()}},
             {"waiting", "running", "jobs"}, {{"waiting", 3}, {"running", 1}, {"jobs", {kJobId}}});
  schemas["Models"] = object(
      {{"default", {{"type", "string"}}},
       {"models",
        {{"type", "array"},
         {"items",
          {{"type", "object"},
           {"properties", {{"name", {{"type", "string"}}}, {"default", {{"type", "boolean"}}}}},
           {"required", {"name", "default"}}}}}}},
      {"default", "models"},
      {{"default", "htdemucs"}, {"models", {{{"name", "htdemucs"}, {"default", true}}}}});
  schemas["Deleted"] = object({{"id", {{"type", "string"}}}, {"deleted", {{"type", "boolean"}}}},
                              {"id", "deleted"}, {{"id", kJobId}, {"deleted", true}});
  schemas["Health"] =
      object({{"status", {{"type", "string"}, {"enum", {"ok"}}}}}, {"status"}, {{"status", "ok"}});
  schemas["Readiness"] = object(
      {{"status", {{"type", "string"}, {"enum", {"ready", "not ready"}}}},
       {"checks",
        {{"type", "object"},
         {"description", "\"ok\" or why not, per dependency"},
         {"properties", {{"redis", {{"type", "string"}}}, {"storage", {{"type", "string"}}}}},
         {"required", {"redis", "storage"}}}}},
      {"status", "checks"},
      {{"status", "ready"}, {"checks", {{"redis", "ok"}, {"storage", "ok"}}}});
  json count = {{"type", "integer"}, {"minimum", 0}};
  schemas["Scaling"] =
      object({{"waiting", count},
              {"retrying", count},
              {"running", count},
              {"housekeeping", count},
              {"demand", count}},
             {"waiting", "retrying", "running", "housekeeping", "demand"},
             {{"waiting", 2}, {"retrying", 0}, {"running", 1}, {"housekeeping", 0}, {"demand", 3}});
  schemas["OpenApi"] = {{"type", "object"},
                        {"description", "An OpenAPI 3.0 document (this one)"},
                        {"required", {"openapi", "info", "paths"}},
                        {"properties", {{"openapi", {{"type", "string"}}}}},
                        {"additionalProperties", true}};
  schemas["SongAnswer"] =
      object({{"hash", {{"type", "string"}}}, {"reason", {{"type", "string"}}}}, {"hash", "reason"},
             {{"hash", kSongHash}, {"reason", "Song enqueued for separation"}});
  schemas["SongQueue"] = object({{"queue", string_list()}}, {"queue"}, {{"queue", {kSongHash}}});
  schemas["TrackRemoved"] =
      object({{"hash", {{"type", "string"}}},
              {"reason", {{"type", "string"}}},
              {"track", {{"type", "string"}}}},
             {"hash", "reason", "track"},
             {{"hash", kSongHash}, {"reason", "Track removed"}, {"track", "vocals.mp3"}});
  return schemas;
}

json stems_schema() {
  return {{"type", "string"},
          {"pattern", queue::stems_pattern()},
          {"default", queue::JobSettings{}.stems.text()},
          {"example", "two:vocals"}};
}

json format_schema() {
  return {{"type", "string"},
          {"enum", queue::format_names()},
          {"default", queue::format_name(queue::JobSettings{}.format)}};
}

std::vector<json> job_setting_parameters() {
  std::vector<json> parameters;
  for (const auto& [name, schema] : std::vector<std::pair<std::string, json>>{
           {"model", {{"type", "string"}, {"description", "default: the service's default model"}}},
           {"stems", stems_schema()},
           {"format", format_schema()},
           {"callback_url", {{"type", "string"}}}})
    parameters.push_back(
        {{"name", name}, {"in", "query"}, {"required", false}, {"schema", schema}});
  return parameters;
}

json job_upload_body() {
  json binary = {{"type", "string"}, {"format", "binary"}};
  return {{"required", true},
          {"content",
           {{"application/octet-stream", {{"schema", binary}}},
            {"multipart/form-data",
             {{"schema",
               {{"type", "object"},
                {"properties",
                 {{"file", binary},
                  {"model", {{"type", "string"}}},
                  {"stems", stems_schema()},
                  {"format", format_schema()},
                  {"callback_url", {{"type", "string"}}}}},
                {"required", {"file"}}}}}}}}};
}

json song_upload_body() {
  return {{"required", true},
          {"content",
           {{"application/json",
             {{"schema",
               {{"type", "object"},
                {"properties",
                 {{"mp3", {{"type", "string"}, {"format", "byte"}}},
                  {"model", {{"type", "string"}}},
                  {"callback", {{"type", "object"}}}}},
                {"required", {"mp3"}}}}}}}}};
}

json range_parameter() {
  return {{"name", "Range"},
          {"in", "header"},
          {"required", false},
          {"schema", {{"type", "string"}, {"example", "bytes=0-1023"}}}};
}

std::vector<Answer> range_answers(const std::string& content_type) {
  return {file_answer(206, "The requested range", content_type),
          json_answer(416, "The range is outside the file", "Error")};
}

Answer json_answer(int status, const std::string& description, const std::string& schema) {
  return {status, description, "application/json", schema_ref(schema)};
}

Answer file_answer(int status, const std::string& description, const std::string& content_type) {
  return {status, description, content_type, {{"type", "string"}, {"format", "binary"}}};
}

Answer text_answer(int status, const std::string& description, const std::string& content_type) {
  return {status, description, content_type, {{"type", "string"}}};
}

}  // namespace msaas::api

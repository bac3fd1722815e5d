// api/openapi_schemas.h: the bodies the API answers with, as OpenAPI components shared by the
// routes (the job from job_view's own table), and short ways for a route to declare an answer.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "api/route.h"

namespace msaas::api {

// Every named schema: Job, Error, Queue, Models, Deleted, Health, Readiness, Scaling, the
// original API's answers.
nlohmann::json schema_components();

// {"$ref": "#/components/schemas/<name>"}
nlohmann::json schema_ref(const std::string& name);

// What a job's settings look like as query or form fields (queue/job_settings.h).
nlohmann::json stems_schema();
nlohmann::json format_schema();
// POST /v1/jobs: the settings as query parameters, and the body (raw or multipart).
std::vector<nlohmann::json> job_setting_parameters();
nlohmann::json job_upload_body();
// POST /apiv1/separate: the original API's JSON body.
nlohmann::json song_upload_body();
// The Range header of downloads, and the answers it brings (206, 416).
nlohmann::json range_parameter();
std::vector<Answer> range_answers(const std::string& content_type);

// A JSON answer whose body is the named component.
Answer json_answer(int status, const std::string& description, const std::string& schema);
// A file or stream: its content type and a binary (or text) body.
Answer file_answer(int status, const std::string& description, const std::string& content_type);
Answer text_answer(int status, const std::string& description, const std::string& content_type);

}  // namespace msaas::api

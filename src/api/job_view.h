// api/job_view.h: how a job record looks to /v1 clients, and how its files are served (stems
// with Range, the zip). Shared by the /v1 and original routes.
#pragma once

#include <httplib.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "api/api_context.h"

namespace msaas::api {

// The public view of a job record: id, status, progress, stage, settings, stem URLs, error.
nlohmann::json job_view(const queue::JobRecord& record);
// Its JSON schema for the OpenAPI document, made from the same table as the view.
nlohmann::json job_schema();

// Streams an object of the output bucket as the response (Range requests answered by
// cpp-httplib from the provider); 404 when it is gone.
void serve_object(ApiContext& context, httplib::Response& res, const std::string& key,
                  const std::string& content_type, const std::string& download_name);

// Streams a done job's stems as one zip, assembled as it is sent (api/zip_stream.h), with Range;
// 404 when a stem is gone, 422 past what a zip can hold.
void serve_zip(ApiContext& context, httplib::Response& res, const queue::JobRecord& record,
               const std::string& download_name);

// The API key name behind a request ("" when keys are off; requests without a valid key never
// reach the routes).
std::string owner_of(ApiContext& context, const httplib::Request& req);
// With keys on, a job is visible only to the key that made it.
bool visible_to(const queue::JobRecord& record, const std::string& owner);

// Deletes the files a removal just put in the trash, while the user waits (a few seconds at
// most); what storage refuses is left to the workers' sweeps.
void remove_files_now(ApiContext& context, const std::vector<queue::TrashItem>& files);

}  // namespace msaas::api

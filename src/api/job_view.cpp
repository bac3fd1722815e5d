// api/job_view.cpp: see job_view.h.
#include "api/job_view.h"

#include <algorithm>
#include <functional>

#include "api/http_util.h"
#include "api/zip_stream.h"
#include "service/file_sweeper.h"
#include "service/log.h"

namespace msaas::api {

using nlohmann::json;

namespace {

// One member of the public view: its schema, and its value from a record (nothing: left out).
struct ViewField {
  const char* name;
  json schema;
  bool required;
  std::function<std::optional<json>(const queue::JobRecord&)> value;
};

json string_enum(const std::vector<std::string>& values) {
  return {{"type", "string"}, {"enum", values}};
}

json stem_schema() {
  return {{"type", "object"},
          {"required", {"name", "url", "content_type", "size"}},
          {"properties",
           {{"name", {{"type", "string"}, {"example", "vocals"}}},
            {"url", {{"type", "string"}, {"example", "/v1/jobs/<id>/stems/vocals"}}},
            {"content_type", {{"type", "string"}, {"example", "audio/mpeg"}}},
            {"size", {{"type", "integer"}, {"example", 7654321}}}}}};
}

// A running job's stems to listen to while it separates (api/live_stem.h).
json live_schema() {
  json stem = {{"type", "object"},
               {"required", {"name", "url"}},
               {"properties",
                {{"name", {{"type", "string"}, {"example", "vocals"}}},
                 {"url", {{"type", "string"}, {"example", "/v1/jobs/<id>/stems/vocals"}}}}}};
  return {{"type", "object"},
          {"description",
           "While the job runs, once the song is decoded: its length and its stems, each "
           "streamed as WAV while it is separated"},
          {"required", {"seconds", "sample_rate", "stems"}},
          {"properties",
           {{"seconds", {{"type", "number"}, {"example", 212.4}}},
            {"sample_rate", {{"type", "integer"}, {"example", 44100}}},
            {"stems", {{"type", "array"}, {"items", stem}}}}}};
}

// The view, member by member: job_view and the OpenAPI schema (job_schema) are both made from
// this table, so the document cannot miss a member the API sends.
const std::vector<ViewField>& view_fields() {
  using R = const queue::JobRecord&;
  auto integer = [](long long example) { return json{{"type", "integer"}, {"example", example}}; };
  static const std::vector<ViewField> fields = {
      {"id",
       {{"type", "string"}, {"pattern", "^[0-9a-f]{32}$"}},
       true,
       [](R r) { return json(r.id); }},
      {"status", string_enum({"queued", "running", "done", "failed"}), true,
       [](R r) { return json(r.status); }},
      {"progress", integer(40), true, [](R r) { return json(r.progress); }},
      {"stage",
       {{"type", "string"},
        {"description",
         "queued, retrying, starting, downloading, loading model, decoding, separating, "
         "encoding, uploading, done, failed, deadletter"}},
       true,
       [](R r) { return json(r.stage); }},
      {"model",
       {{"type", "string"}, {"example", "htdemucs"}},
       true,
       [](R r) { return json(r.settings.model); }},
      {"stems_setting",
       {{"type", "string"}, {"pattern", queue::stems_pattern()}, {"example", "two:vocals"}},
       true,
       [](R r) { return json(r.settings.stems.text()); }},
      {"format", string_enum(queue::format_names()), true,
       [](R r) { return json(queue::format_name(r.settings.format)); }},
      {"hash",
       {{"type", "string"}, {"description", "SHA-224 of the uploaded bytes (hex)"}},
       true,
       [](R r) { return json(r.hash); }},
      {"attempts", integer(0), true, [](R r) { return json(r.attempts); }},
      {"created", integer(1764662400), true, [](R r) { return json(r.created); }},
      {"updated", integer(1764662460), true, [](R r) { return json(r.updated); }},
      {"error",
       {{"type", "string"}, {"nullable", true}},
       true,
       [](R r) { return r.error.empty() ? json(nullptr) : json(r.error); }},
      {"stems",
       {{"type", "array"}, {"items", stem_schema()}},
       true,
       [](R r) {
         json stems = json::array();
         if (!r.done()) return std::optional<json>(stems);
         for (const auto& o : r.outputs)
           stems.push_back({{"name", o.name},
                            {"url", "/v1/jobs/" + r.id + "/stems/" + o.name},
                            {"content_type", o.content_type},
                            {"size", o.size}});
         return std::optional<json>(stems);
       }},
      {"audio_seconds",
       {{"type", "number"}, {"example", 212.4}},
       false,
       [](R r) { return r.audio_seconds ? std::optional<json>(*r.audio_seconds) : std::nullopt; }},
      {"real_time_factor",
       {{"type", "number"}, {"example", 0.52}},
       false,
       [](R r) {
         return r.real_time_factor ? std::optional<json>(*r.real_time_factor) : std::nullopt;
       }},
      {"seconds_ready",
       {{"type", "number"},
        {"example", 35.1},
        {"description",
         "Seconds of every stem separated so far (all of them once done); while the job runs, "
         "GET /v1/jobs/{id}/stems/{stem} streams them and the rest as it comes"}},
       false,
       [](R r) -> std::optional<json> {
         if (r.done())
           return r.audio_seconds ? std::optional<json>(*r.audio_seconds) : std::nullopt;
         if (auto* live = r.running_live()) return json(live->seconds_ready());
         return std::nullopt;
       }},
      {"live", live_schema(), false,
       [](R r) -> std::optional<json> {
         auto* live = r.running_live();
         if (!live) return std::nullopt;
         json stems = json::array();
         for (const auto& name : live->stems)
           stems.push_back({{"name", name}, {"url", "/v1/jobs/" + r.id + "/stems/" + name}});
         return json{{"seconds", double(live->frames) / std::max(1, live->sample_rate)},
                     {"sample_rate", live->sample_rate},
                     {"stems", stems}};
       }},
      {"zip_url",
       {{"type", "string"}, {"example", "/v1/jobs/<id>/stems.zip"}},
       false,
       [](R r) {
         if (!r.done() || r.outputs.empty()) return std::optional<json>();
         return std::optional<json>("/v1/jobs/" + r.id + "/stems.zip");
       }},
  };
  return fields;
}

}  // namespace

json job_view(const queue::JobRecord& record) {
  json view = json::object();
  for (const auto& field : view_fields())
    if (auto value = field.value(record)) view[field.name] = *value;
  return view;
}

namespace {

// A finished two-stem job, as the document's example of the view.
queue::JobRecord example_record() {
  queue::JobRecord r;
  r.id = "8c1f0a3e5b7d49e2a6c4f1b3d5e7a9c1";
  r.hash = "3b1f7d2c9e4a6b8d0f2e4c6a8b0d2f4e6a8c0e2f4b6d8a0c2e4f6b8d";
  r.settings = queue::JobSettings::parse("htdemucs", "two:vocals", "mp3");
  r.status = r.stage = "done";
  r.progress = 100;
  r.created = 1764662400;
  r.updated = r.finished = 1764662512;
  r.audio_seconds = 212.4;
  r.real_time_factor = 0.52;
  r.outputs = {{"vocals", r.id + "/1/vocals.mp3", "audio/mpeg", 8497320, 0},
               {"no_vocals", r.id + "/1/no_vocals.mp3", "audio/mpeg", 8497320, 0}};
  return r;
}

}  // namespace

json job_schema() {
  json properties = json::object(), required = json::array();
  for (const auto& field : view_fields()) {
    properties[field.name] = field.schema;
    if (field.required) required.push_back(field.name);
  }
  return {{"type", "object"},
          {"description", "A job: its settings, where it stands, and its stems once done"},
          {"example", job_view(example_record())},
          {"required", required},
          {"properties", properties}};
}

namespace {

void download_headers(httplib::Response& res, const std::string& download_name) {
  res.set_header("Accept-Ranges", "bytes");
  res.set_header("Cache-Control", "private, max-age=3600");
  res.set_header("Content-Disposition", "attachment; filename=\"" + download_name + "\"");
}

}  // namespace

void serve_object(ApiContext& context, httplib::Response& res, const std::string& key,
                  const std::string& content_type, const std::string& download_name) {
  auto size = context.storage->size(context.config.output_bucket, key);
  if (!size) return send_error(res, 404, "the file is no longer stored");
  download_headers(res, download_name);
  auto* storage = context.storage.get();
  std::string bucket = context.config.output_bucket;
  res.set_content_provider(
      static_cast<size_t>(*size), content_type,
      [storage, bucket, key](size_t offset, size_t length, httplib::DataSink& sink) {
        try {
          storage->read(bucket, key, static_cast<int64_t>(offset), static_cast<int64_t>(length),
                        [&](const char* data, size_t n) { return sink.write(data, n); });
          return true;
        } catch (const std::exception& e) {
          service::log_error("download of " + key + " broke off: " + e.what());
          return false;
        }
      });
}

void serve_zip(ApiContext& context, httplib::Response& res, const queue::JobRecord& record,
               const std::string& download_name) {
  std::vector<ZipEntry> entries;
  storage::TransferLimit asking(10);  // one size query per stem: bounded together
  for (const auto& o : record.outputs) {
    auto stored = context.storage->size(context.config.output_bucket, o.key);
    if (!stored || !o.crc32 || o.size != *stored)
      return send_error(res, 404, "the stems are no longer stored");
    entries.push_back({o.file_name(), o.key, static_cast<uint64_t>(*stored), *o.crc32});
  }
  std::shared_ptr<ZipLayout> layout;
  try {
    layout = std::make_shared<ZipLayout>(entries, record.finished);
  } catch (const std::length_error& e) {
    return send_error(res, 422, e.what());
  }
  download_headers(res, download_name);
  auto* storage = context.storage.get();
  std::string bucket = context.config.output_bucket;
  res.set_content_provider(
      static_cast<size_t>(layout->size()), "application/zip",
      [storage, bucket, layout](size_t offset, size_t length, httplib::DataSink& sink) {
        auto send = [&](const char* data, size_t n) { return sink.write(data, n); };
        try {
          return layout->write(
              offset, length,
              [&](const ZipEntry& entry, uint64_t from, uint64_t n) {
                storage->read(bucket, entry.key, static_cast<int64_t>(from),
                              static_cast<int64_t>(n), send);
                return true;
              },
              send);
        } catch (const std::exception& e) {
          service::log_error("zip download broke off: " + std::string(e.what()));
          return false;
        }
      });
}

std::string owner_of(ApiContext& context, const httplib::Request& req) {
  return context.access->owner(req).value_or("");
}

bool visible_to(const queue::JobRecord& record, const std::string& owner) {
  return record.owner == owner;
}

void remove_files_now(ApiContext& context, const std::vector<queue::TrashItem>& files) {
  // A long song's live parts are thousands of objects: what is not deleted within this time is
  // left, due, to the workers' sweeps.
  storage::TransferLimit bounded(5);
  try {
    service::delete_files(context.trash, *context.storage, context.config, files);
  } catch (const std::exception& e) {
    service::log_warning(std::string("files left for the workers to delete: ") + e.what());
  }
}

}  // namespace msaas::api

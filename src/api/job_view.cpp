// api/job_view.cpp: see job_view.h.
#include "api/job_view.h"

#include "api/http_util.h"
#include "api/zip_stream.h"
#include "queue/log.h"
#include "service/file_sweeper.h"

namespace msaas::api {

using nlohmann::json;

json job_view(const json& r) {
  std::string id = r.value("id", "");
  json view = {{"id", id},
               {"status", r.value("status", "queued")},
               {"progress", r.value("progress", 0)},
               {"stage", r.value("stage", "")},
               {"model", r.value("model", "")},
               {"stems_setting", r.value("stems", "4")},
               {"format", r.value("format", "mp3")},
               {"hash", r.value("hash", "")},
               {"attempts", r.value("attempts", 0)},
               {"created", r.value("created", 0)},
               {"updated", r.value("updated", 0)},
               {"error", nullptr},
               {"stems", json::array()}};
  std::string error = r.value("error", "");
  if (!error.empty()) view["error"] = error;
  if (r.contains("seconds")) view["audio_seconds"] = r["seconds"];
  if (r.contains("rtf")) view["real_time_factor"] = r["rtf"];
  if (view["status"] == "done" && r.contains("outputs") && r["outputs"].is_array()) {
    for (const auto& o : r["outputs"])
      view["stems"].push_back({{"name", o.value("name", "")},
                               {"url", "/v1/jobs/" + id + "/stems/" + o.value("name", "")},
                               {"content_type", o.value("content_type", "")},
                               {"size", o.value("size", 0)}});
    view["zip_url"] = "/v1/jobs/" + id + "/stems.zip";
  }
  return view;
}

std::optional<json> find_output(const json& record, const std::string& stem) {
  if (!record.contains("outputs") || !record["outputs"].is_array()) return std::nullopt;
  for (const auto& o : record["outputs"]) {
    std::string name = o.value("name", "");
    std::string key = o.value("key", "");
    std::string file = key.substr(key.rfind('/') + 1);
    if (stem == name || stem == file) return o;
  }
  return std::nullopt;
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
          queue::log_error("download of " + key + " broke off: " + e.what());
          return false;
        }
      });
}

void serve_zip(ApiContext& context, httplib::Response& res, const json& record,
               const std::string& download_name) {
  std::vector<ZipEntry> entries;
  storage::TransferLimit asking(10);  // one size query per stem: bounded together
  for (const auto& o : record.value("outputs", json::array())) {
    std::string key = o.value("key", "");
    auto stored = context.storage->size(context.config.output_bucket, key);
    if (!stored || !o.contains("crc32") || o.value("size", int64_t{-1}) != *stored)
      return send_error(res, 404, "the stems are no longer stored");
    entries.push_back({key.substr(key.rfind('/') + 1), key, static_cast<uint64_t>(*stored),
                       o["crc32"].get<uint32_t>()});
  }
  std::shared_ptr<ZipLayout> layout;
  try {
    layout = std::make_shared<ZipLayout>(entries, record.value("finished", 0LL));
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
          queue::log_error("zip download broke off: " + std::string(e.what()));
          return false;
        }
      });
}

std::string owner_of(ApiContext& context, const httplib::Request& req) {
  return context.access->owner(req).value_or("");
}

bool visible_to(const json& record, const std::string& owner) {
  return record.value("owner", "") == owner;
}

void remove_files_now(ApiContext& context, const std::vector<queue::TrashItem>& files) {
  try {
    service::delete_files(context.trash, *context.storage, context.config, files);
  } catch (const std::exception& e) {
    queue::log_warning(std::string("files left for the workers to delete: ") + e.what());
  }
}

}  // namespace msaas::api

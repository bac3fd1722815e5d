// queue/job_record.cpp: see job_record.h. Fields are read leniently: a record written by an older
// version (or a field that does not parse) keeps its default, so one odd job never breaks a list.
#include "queue/job_record.h"

#include <map>
#include <nlohmann/json.hpp>

namespace msaas::queue {

using nlohmann::json;

namespace {

template <typename Number>
bool read_number(const std::string& text, Number& into) {
  try {
    if constexpr (std::is_floating_point_v<Number>)
      into = static_cast<Number>(std::stod(text));
    else
      into = static_cast<Number>(std::stoll(text));
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

// Set only when the text is a number: a field that does not parse stays absent.
void read_optional(const std::string& text, std::optional<double>& into) {
  double value = 0;
  if (read_number(text, value)) into = value;
}

std::vector<JobOutput> read_outputs(const std::string& text) {
  std::vector<JobOutput> outputs;
  auto list = json::parse(text, nullptr, false);
  if (!list.is_array()) return outputs;
  for (const auto& o : list) {
    if (!o.is_object()) continue;
    JobOutput out{o.value("name", ""), o.value("key", ""), o.value("content_type", ""),
                  o.value("size", int64_t{0}), std::nullopt};
    if (o.contains("crc32") && o["crc32"].is_number_unsigned()) out.crc32 = o["crc32"];
    outputs.push_back(out);
  }
  return outputs;
}

std::string text_of(const std::map<std::string, std::string>& fields, const char* name,
                    const char* fallback) {
  auto it = fields.find(name);
  return it == fields.end() ? std::string(fallback) : it->second;
}

}  // namespace

std::string outputs_text(const std::vector<JobOutput>& outputs) {
  json list = json::array();
  for (const auto& o : outputs) {
    json entry = {
        {"name", o.name}, {"key", o.key}, {"content_type", o.content_type}, {"size", o.size}};
    if (o.crc32) entry["crc32"] = *o.crc32;
    list.push_back(entry);
  }
  return list.dump();
}

std::string LiveStems::part_key(const std::string& job_id, const std::string& stem, int n) const {
  return job_id + "/" + std::to_string(run) + "/parts/" + stem + "/" + std::to_string(n) + ".pcm";
}

std::string live_text(const LiveStems& live) {
  return json{{"run", live.run},
              {"parts", live.parts},
              {"frames_ready", live.frames_ready},
              {"frames", live.frames},
              {"sample_rate", live.sample_rate},
              {"channels", live.channels},
              {"stems", live.stems}}
      .dump();
}

std::optional<LiveStems> read_live(const std::string& text) {
  auto j = json::parse(text, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  try {
    LiveStems live;
    live.run = j.at("run");
    live.parts = j.at("parts");
    live.frames_ready = j.at("frames_ready");
    live.frames = j.at("frames");
    live.sample_rate = j.at("sample_rate");
    live.channels = j.at("channels");
    live.stems = j.at("stems").get<std::vector<std::string>>();
    return live;
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

const JobOutput* JobRecord::find_output(const std::string& stem) const {
  for (const auto& o : outputs)
    if (stem == o.name || stem == o.file_name()) return &o;
  return nullptr;
}

namespace {

// How each stored field goes into the record; built once (records are read on every status
// poll and every event-stream tick).
using FieldReader = void (*)(JobRecord&, const std::string&);
const std::map<std::string, FieldReader>& field_readers() {
  using R = JobRecord&;
  using V = const std::string&;
  static const std::map<std::string, FieldReader> readers = {
      {"id", [](R r, V v) { r.id = v; }},
      {"hash", [](R r, V v) { r.hash = v; }},
      {"upload", [](R r, V v) { r.upload = v; }},
      {"owner", [](R r, V v) { r.owner = v; }},
      {"api", [](R r, V v) { r.api = v; }},
      {"status", [](R r, V v) { r.status = v; }},
      {"stage", [](R r, V v) { r.stage = v; }},
      {"worker", [](R r, V v) { r.worker = v; }},
      {"zip", [](R r, V v) { r.zip = v; }},
      {"error", [](R r, V v) { r.error = v; }},
      {"progress", [](R r, V v) { read_number(v, r.progress); }},
      {"attempts", [](R r, V v) { read_number(v, r.attempts); }},
      {"starts", [](R r, V v) { read_number(v, r.starts); }},
      {"run", [](R r, V v) { read_number(v, r.run); }},
      {"generation", [](R r, V v) { read_number(v, r.generation); }},
      {"created", [](R r, V v) { read_number(v, r.created); }},
      {"updated", [](R r, V v) { read_number(v, r.updated); }},
      {"finished", [](R r, V v) { read_number(v, r.finished); }},
      {"seconds", [](R r, V v) { read_optional(v, r.audio_seconds); }},
      {"rtf", [](R r, V v) { read_optional(v, r.real_time_factor); }},
      {"outputs", [](R r, V v) { r.outputs = read_outputs(v); }},
      {"live", [](R r, V v) { r.live = read_live(v); }},
  };
  return readers;
}

}  // namespace

JobRecord job_record_from_fields(const std::vector<std::string>& fields) {
  std::map<std::string, std::string> f;
  for (size_t i = 0; i + 1 < fields.size(); i += 2) f[fields[i]] = fields[i + 1];
  JobRecord r;
  const auto& readers = field_readers();
  for (const auto& [name, value] : f)
    if (auto reader = readers.find(name); reader != readers.end()) reader->second(r, value);
  r.settings = JobSettings::stored(text_of(f, "model", ""), text_of(f, "stems", "4"),
                                   text_of(f, "format", "mp3"));
  return r;
}

}  // namespace msaas::queue

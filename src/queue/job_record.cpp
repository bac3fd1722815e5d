// queue/job_record.cpp: see job_record.h. Fields are read leniently: a record written by an older
// version (or a field that does not parse) keeps its default, so one odd job never breaks a list.
#include "queue/job_record.h"

#include <functional>
#include <map>
#include <nlohmann/json.hpp>

namespace msaas::queue {

using nlohmann::json;

namespace {

template <typename Number>
void read_number(const std::string& text, Number& into) {
  try {
    if constexpr (std::is_floating_point_v<Number>)
      into = static_cast<Number>(std::stod(text));
    else
      into = static_cast<Number>(std::stoll(text));
  } catch (const std::exception&) {
  }
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

const JobOutput* JobRecord::find_output(const std::string& stem) const {
  for (const auto& o : outputs)
    if (stem == o.name || stem == o.file_name()) return &o;
  return nullptr;
}

JobRecord job_record_from_fields(const std::vector<std::string>& fields) {
  std::map<std::string, std::string> f;
  for (size_t i = 0; i + 1 < fields.size(); i += 2) f[fields[i]] = fields[i + 1];
  JobRecord r;
  using Reader = std::function<void(const std::string&)>;
  const std::map<std::string, Reader> readers = {
      {"id", [&](const std::string& v) { r.id = v; }},
      {"hash", [&](const std::string& v) { r.hash = v; }},
      {"upload", [&](const std::string& v) { r.upload = v; }},
      {"owner", [&](const std::string& v) { r.owner = v; }},
      {"api", [&](const std::string& v) { r.api = v; }},
      {"status", [&](const std::string& v) { r.status = v; }},
      {"stage", [&](const std::string& v) { r.stage = v; }},
      {"worker", [&](const std::string& v) { r.worker = v; }},
      {"zip", [&](const std::string& v) { r.zip = v; }},
      {"error", [&](const std::string& v) { r.error = v; }},
      {"progress", [&](const std::string& v) { read_number(v, r.progress); }},
      {"attempts", [&](const std::string& v) { read_number(v, r.attempts); }},
      {"starts", [&](const std::string& v) { read_number(v, r.starts); }},
      {"run", [&](const std::string& v) { read_number(v, r.run); }},
      {"generation", [&](const std::string& v) { read_number(v, r.generation); }},
      {"created", [&](const std::string& v) { read_number(v, r.created); }},
      {"updated", [&](const std::string& v) { read_number(v, r.updated); }},
      {"finished", [&](const std::string& v) { read_number(v, r.finished); }},
      {"seconds", [&](const std::string& v) { read_number(v, r.audio_seconds.emplace()); }},
      {"rtf", [&](const std::string& v) { read_number(v, r.real_time_factor.emplace()); }},
      {"outputs", [&](const std::string& v) { r.outputs = read_outputs(v); }},
  };
  for (const auto& [name, value] : f)
    if (auto reader = readers.find(name); reader != readers.end()) reader->second(value);
  r.settings = JobSettings::stored(text_of(f, "model", ""), text_of(f, "stems", "4"),
                                   text_of(f, "format", "mp3"));
  return r;
}

}  // namespace msaas::queue

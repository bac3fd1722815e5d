// queue/job_settings.cpp: see job_settings.h.
#include "queue/job_settings.h"

#include <algorithm>
#include <cctype>

#include "common/text.h"

namespace msaas::queue {

namespace {

bool contains(const std::vector<std::string>& list, const std::string& name) {
  return std::find(list.begin(), list.end(), name) != list.end();
}

}  // namespace

const std::vector<std::string>& known_stem_names() {
  static const std::vector<std::string> names = {"drums",  "bass",   "other",
                                                 "vocals", "guitar", "piano"};
  return names;
}

Stems Stems::parse(const std::string& text) {
  if (text == "4") return {};
  if (text == "6") return {Set::six, ""};
  if (text.rfind("two:", 0) == 0 && contains(known_stem_names(), text.substr(4)))
    return {Set::two, text.substr(4)};
  throw SettingsError("stems must be 4, 6 or two:<stem> with a stem of " +
                      common::joined(known_stem_names()) + " (e.g. two:vocals), not \"" + text +
                      "\"");
}

std::string Stems::text() const {
  switch (set) {
    case Set::four:
      return "4";
    case Set::six:
      return "6";
    case Set::two:
      return "two:" + stem;
  }
  return "4";
}

std::vector<std::string> Stems::outputs(const std::vector<std::string>& sources) const {
  if (set == Set::four) {
    if (sources.size() == 4) return sources;
    for (const char* s : {"drums", "bass", "other", "vocals"})
      if (!contains(sources, s))
        throw SettingsError("the model has no \"" + std::string(s) + "\" stem");
    return {"drums", "bass", "other", "vocals"};
  }
  if (set == Set::six) {
    if (sources.size() != 6)
      throw SettingsError("six stems need a six-stem model such as htdemucs_6s; this one has " +
                          std::to_string(sources.size()));
    return sources;
  }
  if (!contains(sources, stem))
    throw SettingsError("the model has no \"" + stem + "\" stem (it has " +
                        common::joined(sources) + ")");
  return {stem, "no_" + stem};
}

std::string stems_pattern() {
  std::string stems;
  for (const auto& s : known_stem_names()) stems += (stems.empty() ? "" : "|") + s;
  return "^(4|6|two:(" + stems + "))$";
}

const std::vector<std::string>& format_names() {
  static const std::vector<std::string> names = {"mp3", "wav", "flac"};
  return names;
}

OutputFormat parse_format(const std::string& text) {
  if (text == "mp3") return OutputFormat::mp3;
  if (text == "wav") return OutputFormat::wav;
  if (text == "flac") return OutputFormat::flac;
  throw SettingsError("format must be " + common::joined(format_names(), " or ") + ", not \"" +
                      text + "\"");
}

std::string format_name(OutputFormat format) {
  return format_names()[static_cast<size_t>(format)];
}

std::string content_type(OutputFormat format) {
  switch (format) {
    case OutputFormat::mp3:
      return "audio/mpeg";
    case OutputFormat::wav:
      return "audio/wav";
    case OutputFormat::flac:
      return "audio/flac";
  }
  return "application/octet-stream";
}

bool is_model_name(const std::string& text) {
  if (text.empty() || text.size() > 64) return false;
  return std::all_of(text.begin(), text.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '_' || c == '.' || c == '-';
  });
}

JobSettings JobSettings::parse(const std::string& model, const std::string& stems,
                               const std::string& format) {
  if (!is_model_name(model)) throw SettingsError("bad model name \"" + model + "\"");
  return {model, Stems::parse(stems), parse_format(format)};
}

JobSettings JobSettings::stored(const std::string& model, const std::string& stems,
                                const std::string& format) {
  JobSettings settings{model, {}, OutputFormat::mp3};
  try {
    settings.stems = Stems::parse(stems);
  } catch (const SettingsError&) {
  }
  try {
    settings.format = parse_format(format);
  } catch (const SettingsError&) {
  }
  return settings;
}

}  // namespace msaas::queue

// queue/job_settings.h: what a job asks for: the model, the stems (4, 6, or two: one stem and
// the rest) and the stems' format. One parser and one validator, used by the API (query, form
// and JSON fields), the queue's messages, the worker, the CLI's --two-stems and the OpenAPI
// document's enums, so the words users see are the same everywhere.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

namespace msaas::queue {

// A setting that cannot work (bad text, or a stem the model lacks); the message is for users.
class SettingsError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// Every stem a Demucs model may have (the six-stem models add guitar and piano).
const std::vector<std::string>& known_stem_names();

struct Stems {
  enum class Set { four, six, two };
  Set set = Set::four;
  std::string stem;  // with Set::two: the stem kept apart ("vocals"); the other is no_<stem>

  // "4", "6" or "two:<stem>"; a SettingsError saying what is accepted otherwise.
  static Stems parse(const std::string& text);
  std::string text() const;
  // The stems a job writes, given the model's sources; a SettingsError when the model lacks one.
  std::vector<std::string> outputs(const std::vector<std::string>& sources) const;
  bool operator==(const Stems&) const = default;
};

enum class OutputFormat { mp3, wav, flac };
const std::vector<std::string>& format_names();      // mp3, wav, flac
OutputFormat parse_format(const std::string& text);  // SettingsError when none of them
std::string format_name(OutputFormat format);
std::string content_type(OutputFormat format);

struct JobSettings {
  std::string model;  // a model name or signature
  Stems stems;
  OutputFormat format = OutputFormat::mp3;

  // The settings from their texts as users give them; a SettingsError for the first that is bad.
  static JobSettings parse(const std::string& model, const std::string& stems,
                           const std::string& format);
  // The settings as a job record or message stored them: leniently, each bad text keeping its
  // default (they were checked by parse before they were stored).
  static JobSettings stored(const std::string& model, const std::string& stems,
                            const std::string& format);
  bool operator==(const JobSettings&) const = default;
};

// The stems texts parse accepts, as a regular expression (for the OpenAPI document).
std::string stems_pattern();

// A model name as a job may carry it (a name or signature, 1-64 of A-Z a-z 0-9 _ . -).
bool is_model_name(const std::string& text);

}  // namespace msaas::queue

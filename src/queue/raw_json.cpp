// queue/raw_json.cpp: see raw_json.h. A scanner, not a parser: the text was validated before.
#include "queue/raw_json.h"

#include <nlohmann/json.hpp>

namespace msaas::queue {

namespace {

size_t skip_space(std::string_view t, size_t i) {
  while (i < t.size() && (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r')) ++i;
  return i;
}

// `i` at an opening quote; returns the index just past the closing one.
size_t skip_string(std::string_view t, size_t i) {
  for (++i; i < t.size(); ++i) {
    if (t[i] == '\\')
      ++i;
    else if (t[i] == '"')
      return i + 1;
  }
  return t.size();
}

// `i` at a value's first character; returns the index just past it.
size_t skip_value(std::string_view t, size_t i) {
  if (i >= t.size()) return i;
  if (t[i] == '"') return skip_string(t, i);
  if (t[i] == '{' || t[i] == '[') {
    int depth = 0;
    while (i < t.size()) {
      char c = t[i];
      if (c == '"') {
        i = skip_string(t, i);
        continue;
      }
      if (c == '{' || c == '[') ++depth;
      if ((c == '}' || c == ']') && --depth == 0) return i + 1;
      ++i;
    }
    return i;
  }
  while (i < t.size() && t[i] != ',' && t[i] != '}' && t[i] != ']' && t[i] != ' ' && t[i] != '\t' &&
         t[i] != '\n' && t[i] != '\r')
    ++i;
  return i;
}

}  // namespace

std::optional<std::string_view> raw_member(std::string_view text, const std::string& key) {
  // A UTF-8 byte order mark may open the text; the parser that validated it skipped one too.
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  size_t i = skip_space(text, 0);
  if (i >= text.size() || text[i] != '{') return std::nullopt;
  std::optional<std::string_view> found;
  i = skip_space(text, i + 1);
  while (i < text.size() && text[i] == '"') {
    size_t key_end = skip_string(text, i);
    // Keys may use escapes ("\u0064ata"): compared decoded.
    auto name = nlohmann::json::parse(text.substr(i, key_end - i), nullptr, false);
    i = skip_space(text, key_end);
    if (i >= text.size() || text[i] != ':') return std::nullopt;
    i = skip_space(text, i + 1);
    size_t value_end = skip_value(text, i);
    if (name.is_string() && name.get<std::string>() == key) found = text.substr(i, value_end - i);
    i = skip_space(text, value_end);
    if (i < text.size() && text[i] == ',') i = skip_space(text, i + 1);
  }
  return found;
}

}  // namespace msaas::queue

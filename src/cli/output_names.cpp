// cli/output_names.cpp: see output_names.h.
#include "cli/output_names.h"

#include <stdexcept>

namespace msaas::cli {

std::string stem_filename(const std::string& pattern, const std::string& track_file,
                          const std::string& stem, const std::string& ext) {
  size_t dot = track_file.rfind('.');
  std::string track = dot == std::string::npos ? track_file : track_file.substr(0, dot);
  std::string trackext = dot == std::string::npos ? track_file : track_file.substr(dot + 1);
  std::string out;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] != '{') {
      out += pattern[i];
      continue;
    }
    size_t close = pattern.find('}', i);
    if (close == std::string::npos) throw std::invalid_argument("unclosed '{' in --filename");
    std::string key = pattern.substr(i + 1, close - i - 1);
    if (key == "track")
      out += track;
    else if (key == "trackext")
      out += trackext;
    else if (key == "stem")
      out += stem;
    else if (key == "ext")
      out += ext;
    else
      throw std::invalid_argument("unknown placeholder {" + key + "} in --filename");
    i = close;
  }
  return out;
}

}  // namespace msaas::cli

// cli/output_names.h: where a stem goes, from the official --filename pattern.
#pragma once

#include <string>

namespace msaas::cli {

// Expands "{track}", "{trackext}", "{stem}" and "{ext}" in `pattern` (default
// "{track}/{stem}.{ext}"). `track_file` is the input's file name; like the official tool, its
// last dot splits name from extension. Throws std::invalid_argument on an unknown placeholder.
std::string stem_filename(const std::string& pattern, const std::string& track_file,
                          const std::string& stem, const std::string& ext);

}  // namespace msaas::cli

// worker/zip_writer.h: the stems.zip download, written once by the worker with libzip so the API
// serves it like any other object (with Range). Entries are stored, not deflated: the stems are
// already compressed audio, or WAV that deflate barely shrinks.
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace msaas::worker {

// Writes `entries` (name in the zip, file on disk) to `path` (temporary name, then rename).
void write_zip(const std::filesystem::path& path,
               const std::vector<std::pair<std::string, std::filesystem::path>>& entries);

}  // namespace msaas::worker

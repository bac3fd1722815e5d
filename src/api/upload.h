// api/upload.h: receiving an uploaded song. The body is streamed to a spool file while its
// SHA-224 (the song hash) is computed, so an upload is never held whole in memory; it then goes
// to the `queue` bucket as <songhash>.<ext>.
#pragma once

#include <httplib.h>

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <variant>

namespace msaas::api {

struct ReceivedUpload {
  std::filesystem::path path;  // spool file; removed by the destructor
  std::string hash;            // SHA-224 hex
  std::string extension;       // lowercase, from the file name or content type ("mp3" default)
  long long size = 0;
  std::map<std::string, std::string> fields;  // multipart form fields other than the file
  ReceivedUpload() = default;
  ReceivedUpload(ReceivedUpload&&) = default;
  ~ReceivedUpload();
};

// Why an upload was refused: HTTP status and message.
struct UploadRefusal {
  int status;
  std::string message;
};

// Reads a raw or multipart/form-data body (file in the part named "file"). Returns the upload
// or a refusal (too large, empty, no file part).
std::variant<ReceivedUpload, UploadRefusal> receive_upload(const httplib::Request& req,
                                                           const httplib::ContentReader& reader,
                                                           const std::filesystem::path& spool_dir,
                                                           long long max_bytes);

// Writes already-decoded bytes (the original API's base64 field) to a spool file.
ReceivedUpload upload_from_bytes(const std::string& bytes, const std::string& extension,
                                 const std::filesystem::path& spool_dir);

// Extensions accepted for uploads (others are stored as "bin" and left to the decoder).
std::string upload_extension(const std::string& filename, const std::string& content_type);

}  // namespace msaas::api

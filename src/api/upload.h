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

// The original API's upload: the song from the JSON's base64 "mp3", decoded into the spool as
// the body arrives, and the body's other members as written ({"model": ..., "callback": ...}).
struct Apiv1Upload {
  ReceivedUpload song;
  std::string other_members;
};

// Reads the original API's JSON body (api/apiv1_body.h). The song's audio is not yet checked.
std::variant<Apiv1Upload, UploadRefusal> receive_apiv1_upload(
    const httplib::ContentReader& reader, const std::filesystem::path& spool_dir,
    long long max_bytes);

// Extensions accepted for uploads (others are stored as "bin" and left to the decoder).
std::string upload_extension(const std::string& filename, const std::string& content_type);

}  // namespace msaas::api

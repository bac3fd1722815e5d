// api/upload.cpp: see upload.h.
#include "api/upload.h"

#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <memory>
#include <utility>
#include <variant>

#include "api/apiv1_body.h"
#include "api/audio_sniff.h"
#include "api/guarded_server.h"
#include "common/digest.h"
#include "storage/storage.h"

namespace msaas::api {

namespace fs = std::filesystem;

namespace {

// A spool file being written while its SHA-224 is computed, up to the upload limit.
class HashingFile {
 public:
  HashingFile(const fs::path& dir, long long limit)
      : limit_(limit), digest_(EVP_MD_CTX_new(), EVP_MD_CTX_free) {
    static std::atomic<unsigned> counter{0};
    fs::create_directories(dir);
    path_ =
        dir / ("upload-" + std::to_string(getpid()) + "-" + std::to_string(counter++) + ".part");
    out_.open(path_, std::ios::binary | std::ios::trunc);
    if (!out_) throw storage::StorageError("cannot write the upload spool " + path_.string());
    EVP_DigestInit_ex(digest_.get(), EVP_sha224(), nullptr);
  }
  ~HashingFile() {
    if (!path_.empty()) fs::remove(path_);
  }
  // False, writing nothing, when the bytes would take the file past its limit.
  bool write(const char* data, size_t n) {
    if (size_ + static_cast<long long>(n) > limit_) {
      over_limit_ = true;
      return false;
    }
    out_.write(data, static_cast<std::streamsize>(n));
    EVP_DigestUpdate(digest_.get(), data, n);
    size_ += static_cast<long long>(n);
    return true;
  }
  long long size() const { return size_; }
  bool over_limit() const { return over_limit_; }
  // Closes the file and hands it over (the caller's ReceivedUpload removes it later).
  ReceivedUpload finish() {
    out_.close();
    if (!out_)
      throw storage::StorageError("cannot write the upload spool (disk full?) " +
                                  path_.filename().string());
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_DigestFinal_ex(digest_.get(), digest, &length);
    ReceivedUpload upload;
    upload.hash = common::to_hex(digest, length);
    upload.size = size_;
    upload.path = std::exchange(path_, {});
    return upload;
  }

 private:
  long long limit_;
  bool over_limit_ = false;
  fs::path path_;
  std::ofstream out_;
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> digest_;
  long long size_ = 0;
};

// A form carries the file and a few short settings (model, stems, format, callback_url).
constexpr int kMostFormParts = 16;
constexpr size_t kFormFieldLimit = 4096;

// When the connection's own limits stopped the body (api/guarded_server.h): 413 or 408.
std::optional<UploadRefusal> connection_refusal() {
  if (auto refusal = GuardedServer::limit_refusal())
    return UploadRefusal{refusal->status, refusal->message};
  return std::nullopt;
}

std::string lowercase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), ::tolower);
  return text;
}

}  // namespace

ReceivedUpload::~ReceivedUpload() {
  if (!path.empty()) {
    std::error_code ec;
    fs::remove(path, ec);
  }
}

std::string upload_extension(const std::string& filename, const std::string& content_type) {
  static const std::vector<std::string> known = {"mp3", "wav", "flac", "ogg",  "opus", "m4a",
                                                 "aac", "aif", "aiff", "webm", "mp4",  "wma"};
  std::string ext = lowercase(fs::path(filename).extension().string());
  if (!ext.empty()) ext.erase(0, 1);
  if (std::find(known.begin(), known.end(), ext) != known.end()) return ext;
  std::string type = lowercase(content_type);
  if (type == "audio/mpeg" || type == "audio/mp3") return "mp3";
  if (type == "audio/wav" || type == "audio/x-wav" || type == "audio/wave") return "wav";
  if (type == "audio/flac" || type == "audio/x-flac") return "flac";
  if (type == "audio/ogg") return "ogg";
  if (filename.empty() && (type.empty() || type == "application/octet-stream")) return "mp3";
  return "bin";
}

std::variant<ReceivedUpload, UploadRefusal> receive_upload(const httplib::Request& req,
                                                           const httplib::ContentReader& reader,
                                                           const fs::path& spool_dir,
                                                           long long max_bytes) {
  auto too_large = UploadRefusal{
      413, "the upload is larger than the limit of " + std::to_string(max_bytes) + " bytes"};
  if (req.has_header("Content-Length") &&
      std::stoll("0" + req.get_header_value("Content-Length")) > max_bytes + (1 << 16))
    return too_large;
  HashingFile file(spool_dir, max_bytes);
  std::map<std::string, std::string> fields;
  std::string filename, content_type = req.get_header_value("Content-Type");
  bool saw_file = false;
  bool complete = true;
  std::optional<UploadRefusal> form_refusal;
  if (req.is_multipart_form_data()) {
    std::string part;
    int parts = 0;
    complete = reader(
        [&](const httplib::MultipartFormData& header) {
          part = header.name;
          if (++parts > kMostFormParts)
            form_refusal = UploadRefusal{
                413, "the form has more than " + std::to_string(kMostFormParts) + " parts"};
          else if (part == "file" && saw_file)
            form_refusal = UploadRefusal{400, "the form has more than one part named \"file\""};
          if (form_refusal) return false;
          if (part == "file") {
            saw_file = true;
            filename = header.filename;
            content_type = header.content_type;
          }
          return true;
        },
        [&](const char* data, size_t n) {
          if (part == "file") return file.write(data, n);
          auto& value = fields[part];
          if (value.size() + n > kFormFieldLimit) {
            form_refusal =
                UploadRefusal{413, "the form field \"" + part.substr(0, 64) + "\" is longer than " +
                                       std::to_string(kFormFieldLimit) + " bytes"};
            return false;
          }
          value.append(data, n);
          return true;
        });
    if (form_refusal) return *form_refusal;
    if (!file.over_limit() && !saw_file && complete)
      return UploadRefusal{400, "the multipart form has no part named \"file\""};
  } else {
    saw_file = true;
    complete = reader([&](const char* data, size_t n) { return file.write(data, n); });
  }
  if (file.over_limit()) return too_large;
  if (auto refusal = connection_refusal()) return *refusal;
  // The client went away (or sent less than it announced): nothing of it is kept.
  if (!complete) return UploadRefusal{400, "the upload broke off before its end"};
  if (file.size() == 0) return UploadRefusal{400, "the upload is empty"};
  ReceivedUpload upload = file.finish();
  if (!looks_like_audio(upload.path))
    return UploadRefusal{415,
                         "this is not an audio file MSaaS can read (MP3, WAV, FLAC, OGG, "
                         "Opus, M4A/AAC, AIFF, WebM)"};
  if (auto why = truncation(upload.path)) return UploadRefusal{400, *why};
  upload.extension = upload_extension(filename, content_type);
  upload.fields = std::move(fields);
  return upload;
}

std::variant<Apiv1Upload, UploadRefusal> receive_apiv1_upload(const httplib::ContentReader& reader,
                                                              const fs::path& spool_dir,
                                                              long long max_bytes) {
  HashingFile file(spool_dir, max_bytes);
  Apiv1BodyReader body([&](const char* data, size_t n) { return file.write(data, n); });
  bool complete = reader([&](const char* data, size_t n) { return body.feed(data, n); });
  if (!file.over_limit() && body.error().empty()) {
    if (auto refusal = connection_refusal()) return *refusal;
    if (!complete) return UploadRefusal{400, "the body broke off before its end"};
    body.finish();
  }
  if (file.over_limit())
    return UploadRefusal{
        413, "the song is larger than the limit of " + std::to_string(max_bytes) + " bytes"};
  if (!body.error().empty()) return UploadRefusal{body.error_status(), body.error()};
  if (!body.saw_song())
    return UploadRefusal{400, "the JSON needs \"mp3\": the song's bytes in base64"};
  if (file.size() == 0) return UploadRefusal{400, "\"mp3\" is empty"};
  Apiv1Upload upload{file.finish(), body.other_members()};
  upload.song.extension = "mp3";
  return upload;
}

}  // namespace msaas::api

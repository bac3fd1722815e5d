// worker/zip_writer.cpp: see zip_writer.h.
#include "worker/zip_writer.h"

#include <zip.h>

#include <stdexcept>

namespace msaas::worker {

void write_zip(const std::filesystem::path& path,
               const std::vector<std::pair<std::string, std::filesystem::path>>& entries) {
  std::filesystem::path temp = path.string() + ".part";
  std::filesystem::remove(temp);
  int error = 0;
  zip_t* archive = zip_open(temp.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &error);
  if (!archive) throw std::runtime_error("cannot create " + temp.string());
  for (const auto& [name, file] : entries) {
    zip_source_t* source = zip_source_file(archive, file.c_str(), 0, -1);
    zip_int64_t index = source ? zip_file_add(archive, name.c_str(), source, ZIP_FL_ENC_UTF_8) : -1;
    if (index < 0) {
      if (source) zip_source_free(source);
      std::string why = zip_strerror(archive);
      zip_discard(archive);
      throw std::runtime_error("cannot add " + name + " to the zip: " + why);
    }
    zip_set_file_compression(archive, index, ZIP_CM_STORE, 0);
  }
  if (zip_close(archive) != 0) {
    std::string why = zip_strerror(archive);
    zip_discard(archive);
    throw std::runtime_error("cannot write " + temp.string() + ": " + why);
  }
  std::filesystem::rename(temp, path);
}

}  // namespace msaas::worker

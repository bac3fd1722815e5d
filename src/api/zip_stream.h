// api/zip_stream.h: the stems.zip download, assembled from the stored stems as it is sent instead
// of stored a second time (a 1-hour job's zip of WAVs was 2.5 GB of scratch and storage). Entries
// are stored, not deflated (the stems are compressed audio, or WAV that deflate barely shrinks),
// and the worker records each stem's size and CRC-32, so the whole archive is known before a byte
// is sent: it has a Content-Length and serves Range requests like a file.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace msaas::api {

struct ZipEntry {
  std::string name;  // the file name inside the zip
  std::string key;   // the object it is read from
  uint64_t size = 0;
  uint32_t crc32 = 0;
};

// Reads `length` bytes of an entry from `offset` into the sink; false to stop.
using EntryReader = std::function<bool(const ZipEntry& entry, uint64_t offset, uint64_t length)>;
using ByteWriter = std::function<bool(const char* data, size_t size)>;

class ZipLayout {
 public:
  // `unix_time`: the entries' modification time. Throws std::length_error past 4 GiB (a zip
  // without the ZIP64 extension cannot say more).
  ZipLayout(const std::vector<ZipEntry>& entries, long long unix_time);
  uint64_t size() const { return size_; }
  // Sends bytes [offset, offset + length): headers from memory, entry data through `read`.
  bool write(uint64_t offset, uint64_t length, const EntryReader& read,
             const ByteWriter& write) const;

 private:
  struct Segment {
    uint64_t start = 0, length = 0;
    std::string bytes;  // headers; empty for entry data
    int entry = -1;     // index into entries_ for entry data
  };
  void add_bytes(std::string bytes);
  std::vector<ZipEntry> entries_;
  std::vector<Segment> segments_;
  uint64_t size_ = 0;
};

}  // namespace msaas::api

// api/zip_stream.cpp: see zip_stream.h. The record layouts are PKWARE's APPNOTE (4.3.7 local file
// header, 4.3.12 central directory header, 4.3.16 end of central directory).
#include "api/zip_stream.h"

#include <ctime>
#include <stdexcept>

namespace msaas::api {

namespace {

void put16(std::string& out, uint32_t v) {
  out += static_cast<char>(v & 0xff);
  out += static_cast<char>((v >> 8) & 0xff);
}

void put32(std::string& out, uint32_t v) {
  put16(out, v & 0xffff);
  put16(out, v >> 16);
}

// MS-DOS date and time, as zip stores them (two-second steps, 1980 at the earliest).
std::pair<uint32_t, uint32_t> dos_date_time(long long unix_time) {
  time_t t = static_cast<time_t>(unix_time);
  tm utc{};
  gmtime_r(&t, &utc);
  if (utc.tm_year < 80) return {(1 << 5) | 1, 0};  // 1980-01-01 00:00
  uint32_t date = ((utc.tm_year - 80) << 9) | ((utc.tm_mon + 1) << 5) | utc.tm_mday;
  uint32_t time = (utc.tm_hour << 11) | (utc.tm_min << 5) | (utc.tm_sec / 2);
  return {date, time};
}

// The fields the local and central headers share, from "version needed" to the name's length.
void common_fields(std::string& out, const ZipEntry& e, std::pair<uint32_t, uint32_t> when) {
  put16(out, 10);  // version needed: 1.0, stored entries
  put16(out, 0);   // flags
  put16(out, 0);   // method: stored
  put16(out, when.second);
  put16(out, when.first);
  put32(out, e.crc32);
  put32(out, static_cast<uint32_t>(e.size));  // compressed size = size
  put32(out, static_cast<uint32_t>(e.size));
  put16(out, static_cast<uint32_t>(e.name.size()));
  put16(out, 0);  // extra field length
}

constexpr uint64_t kZipLimit = 0xffffffffULL;

}  // namespace

ZipLayout::ZipLayout(const std::vector<ZipEntry>& entries, long long unix_time)
    : entries_(entries) {
  auto when = dos_date_time(unix_time);
  std::string directory;
  for (size_t i = 0; i < entries_.size(); ++i) {
    const auto& e = entries_[i];
    uint64_t offset = size_;
    std::string local;
    put32(local, 0x04034b50);
    common_fields(local, e, when);
    local += e.name;
    add_bytes(local);
    segments_.push_back({size_, e.size, "", static_cast<int>(i)});
    size_ += e.size;

    put32(directory, 0x02014b50);
    put16(directory, (3 << 8) | 20);  // made by: Unix, 2.0
    common_fields(directory, e, when);
    put16(directory, 0);               // comment length
    put16(directory, 0);               // disk number
    put16(directory, 0);               // internal attributes
    put32(directory, 0100644u << 16);  // external: a regular file, rw-r--r--
    put32(directory, static_cast<uint32_t>(offset));
    directory += e.name;
  }
  uint64_t directory_offset = size_;
  uint64_t directory_size = directory.size();
  put32(directory, 0x06054b50);
  put16(directory, 0);
  put16(directory, 0);
  put16(directory, static_cast<uint32_t>(entries_.size()));
  put16(directory, static_cast<uint32_t>(entries_.size()));
  put32(directory, static_cast<uint32_t>(directory_size));
  put32(directory, static_cast<uint32_t>(directory_offset));
  put16(directory, 0);  // comment length
  add_bytes(directory);
  if (size_ > kZipLimit || entries_.size() > 0xffff)
    throw std::length_error(
        "the stems together exceed 4 GiB, more than a zip can hold; download "
        "them one by one");
}

void ZipLayout::add_bytes(std::string bytes) {
  uint64_t length = bytes.size();
  segments_.push_back({size_, length, std::move(bytes), -1});
  size_ += length;
}

bool ZipLayout::write(uint64_t offset, uint64_t length, const EntryReader& read,
                      const ByteWriter& write) const {
  uint64_t end = std::min(size_, offset + length);
  for (const auto& s : segments_) {
    if (offset >= end) break;
    if (s.start + s.length <= offset) continue;
    uint64_t from = offset - s.start;
    uint64_t n = std::min(s.length - from, end - offset);
    bool ok = s.entry < 0 ? write(s.bytes.data() + from, n) : read(entries_[s.entry], from, n);
    if (!ok) return false;
    offset += n;
  }
  return true;
}

}  // namespace msaas::api

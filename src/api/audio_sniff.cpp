// api/audio_sniff.cpp: see audio_sniff.h.
#include "api/audio_sniff.h"

#include <fstream>
#include <string>

namespace msaas::api {

namespace {

bool at(std::string_view head, size_t offset, std::string_view magic) {
  return head.size() >= offset + magic.size() && head.substr(offset, magic.size()) == magic;
}

unsigned byte(std::string_view head, size_t i) {
  return static_cast<unsigned char>(head[i]);
}

// An MPEG audio frame header (MP3, MP2) or an ADTS AAC header at `i`.
bool mpeg_frame(std::string_view head, size_t i) {
  if (head.size() < i + 4 || byte(head, i) != 0xFF || (byte(head, i + 1) & 0xE0) != 0xE0)
    return false;
  unsigned version = (byte(head, i + 1) >> 3) & 3, layer = (byte(head, i + 1) >> 1) & 3;
  if (layer == 0) return version == 0 || version == 2;  // ADTS: layer bits 00
  unsigned bitrate = byte(head, i + 2) >> 4, rate = (byte(head, i + 2) >> 2) & 3;
  return version != 1 && bitrate != 0 && bitrate != 15 && rate != 3;
}

}  // namespace

bool looks_like_audio(std::string_view head) {
  if (at(head, 0, "ID3")) return true;  // MP3 with ID3v2
  if (at(head, 0, "RIFF") && (at(head, 8, "WAVE") || at(head, 8, "AVI "))) return true;
  if (at(head, 0, "RF64") || at(head, 0, "fLaC") || at(head, 0, "OggS")) return true;
  if (at(head, 4, "ftyp")) return true;  // MP4/M4A/3GP
  if (at(head, 0, "FORM") && (at(head, 8, "AIFF") || at(head, 8, "AIFC"))) return true;
  if (at(head, 0, "\x1a\x45\xdf\xa3")) return true;                  // WebM/Matroska
  if (at(head, 0, "\x30\x26\xb2\x75\x8e\x66\xcf\x11")) return true;  // ASF/WMA
  if (at(head, 0, "#!AMR") || at(head, 0, "caff") || at(head, 0, ".snd")) return true;
  if (at(head, 0, "MAC ") || at(head, 0, "wvpk") || at(head, 0, "TTA1")) return true;
  // Raw MPEG/AAC streams: two consecutive frame headers would be best; one valid header at the
  // start (after optional padding) is what encoders write.
  size_t i = 0;
  while (i < head.size() && i < 64 && head[i] == '\0') ++i;
  return mpeg_frame(head, i);
}

namespace {

uint32_t little32(std::string_view b, size_t i) {
  return byte(b, i) | byte(b, i + 1) << 8 | byte(b, i + 2) << 16 | uint32_t(byte(b, i + 3)) << 24;
}

uint32_t big32(std::string_view b, size_t i) {
  return uint32_t(byte(b, i)) << 24 | byte(b, i + 1) << 16 | byte(b, i + 2) << 8 | byte(b, i + 3);
}

// The byte count an MP3's Xing/Info header announces for the stream starting at `frame`.
std::optional<uint64_t> xing_bytes(std::string_view head, size_t frame) {
  for (size_t at = frame + 4; at + 16 <= head.size() && at < frame + 64; ++at) {
    if (!(head.compare(at, 4, "Xing") == 0 || head.compare(at, 4, "Info") == 0)) continue;
    uint32_t flags = big32(head, at + 4);
    size_t field = at + 8 + ((flags & 1) ? 4 : 0);
    if (!(flags & 2) || field + 4 > head.size()) return std::nullopt;
    return big32(head, field);
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> truncation(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::string head(4096, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(in.gcount()));
  std::error_code ec;
  uint64_t size = std::filesystem::file_size(file, ec);
  if (ec) return std::nullopt;
  auto cut = [&](uint64_t announced, uint64_t have) -> std::optional<std::string> {
    // A little slack: some writers round, or leave trailing tags out of the count.
    if (have + have / 50 + 1024 >= announced) return std::nullopt;
    return "the file is cut short: its header announces " + std::to_string(announced) +
           " bytes, it holds " + std::to_string(have);
  };
  if (at(head, 0, "RIFF") && at(head, 8, "WAVE")) {
    uint32_t riff = little32(head, 4);
    if (riff == 0 || riff == 0xFFFFFFFFu) return std::nullopt;  // length left open by a stream
    return cut(uint64_t(riff) + 8, size);
  }
  size_t frame = 0;
  if (at(head, 0, "ID3") && head.size() >= 10) {
    frame = 10 + (size_t(byte(head, 6) & 0x7f) << 21 | size_t(byte(head, 7) & 0x7f) << 14 |
                  size_t(byte(head, 8) & 0x7f) << 7 | size_t(byte(head, 9) & 0x7f));
    if (byte(head, 5) & 0x10) frame += 10;  // footer
  }
  if (!mpeg_frame(head, frame)) return std::nullopt;
  auto bytes = xing_bytes(head, frame);
  if (!bytes || size < frame) return std::nullopt;
  return cut(*bytes, size - frame);
}

bool looks_like_audio(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::string head(4096, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(in.gcount()));
  return looks_like_audio(std::string_view(head));
}

}  // namespace msaas::api

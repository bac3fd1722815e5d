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

bool looks_like_audio(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::string head(4096, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(in.gcount()));
  return looks_like_audio(std::string_view(head));
}

}  // namespace msaas::api

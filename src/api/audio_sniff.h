// api/audio_sniff.h: is an upload audio at all? Decided from its first bytes (container magic
// numbers and MPEG frame headers), without decoding, so the API (which carries no FFmpeg) can
// refuse a text file named .mp3 at the door. Damage inside a real audio file is found later by
// the worker's decoder.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace msaas::api {

bool looks_like_audio(std::string_view head);
bool looks_like_audio(const std::filesystem::path& file);

// Files that say how long they are (a WAV's RIFF size, an MP3's Xing/Info byte count) but hold
// less: cut short in transfer. Returns why, or nothing when the file is whole or does not say.
std::optional<std::string> truncation(const std::filesystem::path& file);

}  // namespace msaas::api

// audio/encode.h: write stems as WAV, FLAC or MP3, streamed, never half-written.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>

#include "audio/audio.h"

namespace msaas::audio {

enum class Format { wav, flac, mp3 };
enum class SampleDepth { int16, int24, float32 };

struct EncodeOptions {
  Format format = Format::wav;
  SampleDepth depth = SampleDepth::int16;  // wav: all three; flac: int16/int24; mp3: ignored
  int mp3_bitrate_kbps = 320;
  int mp3_quality = 2;  // LAME's algorithm quality: 2 best, 7 fastest (the official --mp3-preset)
};

// The file extension of a format: "wav", "flac", "mp3".
std::string extension(Format format);

// Float to 16-bit PCM exactly as demucs.audio.i16_pcm does (and our 16-bit encoders): clamp,
// scale by 2^15-1, truncate.
inline int16_t int16_sample(float v) {
  return static_cast<int16_t>(std::clamp(v, -1.0f, 1.0f) * 32767.0f);
}

// Streams planar float audio into `path`. Writes to a temporary name beside it and renames on
// finish(); a writer destroyed before finish() removes its temporary file, so a failed or
// interrupted job never leaves a partial stem under the final name.
class Encoder {
 public:
  Encoder(const std::string& path, int sample_rate, int channels, const EncodeOptions& options);
  ~Encoder();
  Encoder(const Encoder&) = delete;
  Encoder& operator=(const Encoder&) = delete;

  // Appends `frames` samples per channel; channel c starts at planar[c * stride].
  void write(const float* planar, int64_t frames, int64_t stride);
  void finish();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Convenience: encode a whole buffer to `path`.
void write_file(const std::string& path, const Buffer& buffer, const EncodeOptions& options);

}  // namespace msaas::audio

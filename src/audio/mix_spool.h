// audio/mix_spool.h: a song on its way into the engine. Decoding writes it to an unnamed
// temporary file instead of memory, and the engine reads it back a window at a time, so the
// input no longer grows with the song (10 minutes of stereo float32 are 212 MB).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace msaas::audio {

class MixSpool {
 public:
  // Decodes `path` (as decode_file does: same resampling, channels and errors) into a temporary
  // file in `folder`, which disappears with the spool even if the process dies. With
  // `max_seconds` > 0, longer songs throw TooLong with at most that much spooled.
  MixSpool(const std::string& path, int sample_rate, int channels, const std::string& folder,
           double max_seconds = 0);
  ~MixSpool();
  MixSpool(const MixSpool&) = delete;
  MixSpool& operator=(const MixSpool&) = delete;

  int64_t frames() const { return frames_; }
  int channels() const { return channels_; }
  int sample_rate() const { return sample_rate_; }
  double seconds() const { return static_cast<double>(frames_) / sample_rate_; }

  // Frames [offset, offset + frames) into `out`, planar (channel c at out[c * frames]).
  // Matches the engine's MixReader.
  void read(int64_t offset, int64_t frames, float* out) const;

 private:
  int fd_ = -1;
  int sample_rate_, channels_;
  int64_t frames_ = 0;
  mutable std::vector<float> interleaved_;
};

}  // namespace msaas::audio

// audio/audio.h: the audio module's shared types: a planar float buffer and its error.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace msaas::audio {

// Bad or unreadable audio: the message is one readable line for the user.
class AudioError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A song longer than the caller's limit: refused from its header, or when decoding passes it.
class TooLong : public AudioError {
 public:
  using AudioError::AudioError;
};

// Planar float samples: channel c occupies samples[c * frames, (c + 1) * frames).
struct Buffer {
  int sample_rate = 0;
  int channels = 0;
  int64_t frames = 0;
  std::vector<float> samples;

  Buffer() = default;
  Buffer(int rate, int num_channels, int64_t num_frames)
      : sample_rate(rate),
        channels(num_channels),
        frames(num_frames),
        samples(static_cast<size_t>(num_channels) * num_frames, 0.0f) {}

  float* channel(int c) { return samples.data() + static_cast<size_t>(c) * frames; }
  const float* channel(int c) const { return samples.data() + static_cast<size_t>(c) * frames; }
  double seconds() const { return sample_rate ? static_cast<double>(frames) / sample_rate : 0.0; }
};

}  // namespace msaas::audio

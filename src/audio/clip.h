// audio/clip.h: the official tool's strategies against clipping (--clip-mode).
#pragma once

#include <string>

#include "audio/audio.h"

namespace msaas::audio {

enum class ClipMode { rescale, clamp, none };

// Parses "rescale", "clamp" or "none"; throws AudioError otherwise.
ClipMode parse_clip_mode(const std::string& name);

// rescale: divide by max(1.01 * peak, 1); clamp: limit to +-0.99; none: leave as is.
void prevent_clip(Buffer& buffer, ClipMode mode);

// The largest magnitude of count samples: the peak that rescale divides by.
float peak_magnitude(const float* samples, size_t count);

// The same in two steps, for audio that arrives in pieces: the divisor from the whole signal's
// peak (1 unless rescaling), then each piece.
float clip_divisor(ClipMode mode, float peak);
void apply_clip(float* samples, size_t count, ClipMode mode, float divisor);

}  // namespace msaas::audio

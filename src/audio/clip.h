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

}  // namespace msaas::audio

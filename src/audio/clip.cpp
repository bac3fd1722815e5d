// audio/clip.cpp: see clip.h. Same arithmetic as demucs.audio.prevent_clip.
#include "audio/clip.h"

#include <algorithm>
#include <cmath>

namespace msaas::audio {

ClipMode parse_clip_mode(const std::string& name) {
  if (name == "rescale") return ClipMode::rescale;
  if (name == "clamp") return ClipMode::clamp;
  if (name == "none") return ClipMode::none;
  throw AudioError("unknown clip mode '" + name + "' (use rescale, clamp or none)");
}

void prevent_clip(Buffer& buffer, ClipMode mode) {
  auto& s = buffer.samples;
  if (mode == ClipMode::rescale) {
    float peak = 0.0f;
    for (float v : s) peak = std::max(peak, std::fabs(v));
    float divisor = std::max(1.01f * peak, 1.0f);
    if (divisor != 1.0f)
      for (float& v : s) v /= divisor;
  } else if (mode == ClipMode::clamp) {
    for (float& v : s) v = std::clamp(v, -0.99f, 0.99f);
  }
}

}  // namespace msaas::audio

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

float clip_divisor(ClipMode mode, float peak) {
  return mode == ClipMode::rescale ? std::max(1.01f * peak, 1.0f) : 1.0f;
}

void apply_clip(float* samples, size_t count, ClipMode mode, float divisor) {
  if (divisor != 1.0f)
    for (size_t i = 0; i < count; ++i) samples[i] /= divisor;
  if (mode == ClipMode::clamp)
    for (size_t i = 0; i < count; ++i) samples[i] = std::clamp(samples[i], -0.99f, 0.99f);
}

void prevent_clip(Buffer& buffer, ClipMode mode) {
  float peak = 0.0f;
  for (float v : buffer.samples) peak = std::max(peak, std::fabs(v));
  apply_clip(buffer.samples.data(), buffer.samples.size(), mode, clip_divisor(mode, peak));
}

}  // namespace msaas::audio

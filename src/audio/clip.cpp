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

// Eight running maxima that the compiler can hold in vector registers: a single one is a chain
// of dependent comparisons (13 ms of each 16 s of stems in StemSpool::append, on the thread that
// runs the model while the others waited).
float peak_magnitude(const float* samples, size_t count) {
  float most[8] = {};
  size_t i = 0;
  for (; i + 8 <= count; i += 8)
    for (size_t j = 0; j < 8; ++j) most[j] = std::max(most[j], std::fabs(samples[i + j]));
  for (; i < count; ++i) most[0] = std::max(most[0], std::fabs(samples[i]));
  return *std::max_element(most, most + 8);
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
  float peak = peak_magnitude(buffer.samples.data(), buffer.samples.size());
  apply_clip(buffer.samples.data(), buffer.samples.size(), mode, clip_divisor(mode, peak));
}

}  // namespace msaas::audio

// audio/decode.h: read any audio file FFmpeg knows into a Buffer at the model's rate and channels.
#pragma once

#include <string>

#include "audio/audio.h"

namespace msaas::audio {

// Decodes the first audio stream of `path`, resamples it to `sample_rate` and converts it to
// `channels` the way the official Demucs does: mono is duplicated, more channels are downmixed.
// Throws AudioError for a missing, empty, truncated or non-audio file.
Buffer decode_file(const std::string& path, int sample_rate, int channels);

}  // namespace msaas::audio

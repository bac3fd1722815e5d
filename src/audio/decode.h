// audio/decode.h: read any audio file FFmpeg knows into a Buffer at the model's rate and channels.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "audio/audio.h"

namespace msaas::audio {

// Decodes the first audio stream of `path`, resamples it to `sample_rate` and converts it to
// `channels`: mono is duplicated (as the official Demucs does), more channels are downmixed (the
// official code keeps the first two; a downmix keeps a 5.1 mix's centre, where voices are).
// Throws AudioError for a missing, empty, truncated or non-audio file.
Buffer decode_file(const std::string& path, int sample_rate, int channels);

// Receives decoded audio in order: `frames` frames of each of the requested channels, channel c
// at planes[c].
using BlockSink = std::function<void(const float* const* planes, int64_t frames)>;

// decode_file's work, streamed: blocks go to `sink` as they are decoded, so memory stays small
// whatever the song's length. Returns the number of frames; the same checks and errors as
// decode_file, which a sink sees only after all its blocks (a truncated file throws at the end).
// With `max_seconds` > 0, a song longer than that throws TooLong: before any decoding when its
// header says how long it is, else as soon as the decoded audio passes the limit, so a long
// upload never costs more than the limit's worth of decoding and disk.
int64_t decode_stream(const std::string& path, int sample_rate, int channels, const BlockSink& sink,
                      double max_seconds = 0);

}  // namespace msaas::audio

// fuzz/audio_fuzz.cpp: the audio decoding wrapper (FFmpeg + resampling) on arbitrary bytes, as
// an uploaded file reaches it in the worker: streamed, under a length limit (the worker's
// MixSpool does the same with MSAAS_MAX_AUDIO_SECONDS), AudioError for anything it cannot read,
// never a crash. The limit matters: a few kilobytes of WAV at 1 Hz resample to hours of audio
// (fuzz/corpus/audio/regression-1hz-wav), which an unbounded in-memory decode cannot hold.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "audio/decode.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = "/tmp/msaas-audio-fuzz-" + std::to_string(getpid());
  if (FILE* f = std::fopen(path.c_str(), "wb")) {
    std::fwrite(data, 1, size, f);
    std::fclose(f);
  }
  try {
    msaas::audio::decode_stream(
        path, 44100, 2, [](const float* const*, int64_t) {}, 60);
  } catch (const msaas::audio::AudioError&) {
  }
  return 0;
}

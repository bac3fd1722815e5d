// fuzz/audio_fuzz.cpp: the audio decoding wrapper (FFmpeg + resampling) on arbitrary bytes, as
// an uploaded file would reach it: AudioError for anything it cannot read, never a crash.
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
    auto buffer = msaas::audio::decode_file(path, 44100, 2);
    (void)buffer;
  } catch (const msaas::audio::AudioError&) {
  }
  return 0;
}

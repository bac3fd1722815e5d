// audio/stem_spool.h: stems on their way to the encoders. While separation streams, each stem's
// samples go to a hidden file beside its output and its peak is tracked; afterwards each is
// encoded from there, so --clip-mode rescale (which needs the whole stem's peak) works without
// holding whole stems in memory.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "audio/clip.h"
#include "audio/encode.h"

namespace msaas::audio {

class StemSpool {
 public:
  // One spool file per entry of `paths` (the stems' final paths), `channels` channels each.
  StemSpool(std::vector<std::filesystem::path> paths, int channels);
  ~StemSpool();  // removes the spool files
  StemSpool(const StemSpool&) = delete;
  StemSpool& operator=(const StemSpool&) = delete;

  // Appends `frames` frames of stem `index`, planar (channel c at planar[c * frames]).
  void append(size_t index, const float* planar, int64_t frames);
  // Encodes every stem to its final path (temporary name, then rename), on up to `threads`
  // threads (0: one per core); the first stem's error, if any, is thrown once all are done.
  void encode_all(int sample_rate, ClipMode clip, const EncodeOptions& format, int threads = 1);

 private:
  struct Stem {
    std::filesystem::path final_path, spool_path;
    std::fstream file;
    float peak = 0;
  };
  void encode_one(Stem& s, int sample_rate, ClipMode clip, const EncodeOptions& format);

  std::vector<Stem> stems_;
  std::vector<int64_t> chunks_;  // frames of each appended chunk, the same for every stem
  int channels_;
};

}  // namespace msaas::audio

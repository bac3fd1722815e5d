// audio/stem_spool.h: stems on their way to the encoders. While separation streams, each stem's
// samples go to a hidden file beside its output and its peak is tracked, so --clip-mode rescale
// (which needs the whole stem's peak) works without holding whole stems in memory.
//
// Encoding starts before separation ends: background threads at idle priority (SCHED_IDLE) encode
// what has arrived when a core has nothing else to run, so they take next to no time from
// separation. That early work stands only if the stem needs no rescaling (its peak at most
// 1/1.01, as with most songs); a stem whose peak later passes that is encoded again from the start.
// On a machine busy with other work the background threads get next to no time: encode_all()
// then takes their stems over after a short wait, starting them again with encoders of its own.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "audio/clip.h"
#include "audio/encode.h"

namespace msaas::audio {

struct StemEncoding {
  int sample_rate = 44100;
  ClipMode clip = ClipMode::rescale;
  EncodeOptions format;
  int threads = 1;  // encoders at the end, and idle-priority ones before (0: one per core)
  bool in_background = true;  // false: encode only in encode_all()
  // false: background encoders at normal priority, for tests that need them to make progress on
  // a busy machine (where idle priority gets next to no time).
  bool idle_priority = true;
};

class StemSpool {
 public:
  // One spool file per entry of `paths` (the stems' final paths), `channels` channels each.
  StemSpool(std::vector<std::filesystem::path> paths, int channels, StemEncoding encoding);
  ~StemSpool();  // stops the background encoders; removes the spool and any unfinished stem
  StemSpool(const StemSpool&) = delete;
  StemSpool& operator=(const StemSpool&) = delete;

  // Appends `frames` frames of stem `index`, planar (channel c at planar[c * frames]). Every
  // stem receives the same pieces, in the same order (std::invalid_argument otherwise).
  void append(size_t index, const float* planar, int64_t frames);
  // Call once (std::logic_error otherwise), after the last append(): encodes the rest of every stem
  // to its final path (temporary name, then rename) on up to `StemEncoding::threads` threads; the
  // first stem's error, if any, is thrown once all are done.
  void encode_all();
  // Frames of stem `index` encoded so far, early work included (even work that a later peak
  // voids, until encode_all() starts the stem again).
  int64_t frames_encoded(size_t index) const;

 private:
  struct Stem;
  struct Range;  // a run of frames inside one appended piece
  struct Claim;  // a stem and the range a background encoder took of it
  void encode_in_background();
  std::optional<Claim> claim_for_background();
  Stem* take_for_end(const std::vector<size_t>& order);
  Range range_from(const Stem& s, int64_t limit, int64_t block) const;
  void start_encoder(const Stem& s, std::unique_ptr<Encoder>& encoder) const;
  void encode_range(const Stem& s, const Range& range, float divisor, Encoder& encoder,
                    std::vector<float>& block) const;
  void finish_stem(Stem& s, std::vector<float>& block);
  std::vector<size_t> most_work_left_first() const;
  bool request_stop();  // true where it had been asked already

  StemEncoding encoding_;
  int channels_;
  std::vector<std::unique_ptr<Stem>> stems_;
  // Guards the pieces' table, stopping_, and each stem's fields but its fd, paths and (once
  // encode_all() has it) the encoder.
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<int64_t> piece_start_;  // first frame of each appended piece
  std::vector<int64_t> piece_frames_;
  bool stopping_ = false;
  std::vector<std::thread> background_;
};

}  // namespace msaas::audio

// audio/resample.h: the official Demucs' resampler (julius' resample_frac), streamed.
//
// The official code brings a song to the model's rate with julius.resample_frac: a Hann-windowed
// sinc (24 zero crossings, cutoff 0.945 of the lower Nyquist), one kernel per output phase, the
// ends padded by repeating the first and last samples, floor(new * length / old) frames out.
// This class computes the same sums block by block, so a long song never sits in memory twice.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

namespace msaas::audio {

class SincResampler {
 public:
  // Receives output in order: `frames` frames of every channel, channel c at planes[c].
  using Emit = std::function<void(const float* const* planes, int64_t frames)>;

  // Rates whose kernels fit in a few MB: every rate audio files use (8k ... 192k against
  // 44.1k or 48k). A pair of coprime rates (44099 -> 44100) would need one kernel per output
  // phase: 44100 of them.
  static bool practical(int from_rate, int to_rate);

  SincResampler(int from_rate, int to_rate, int channels);

  // Takes `frames` more input frames; hands every output frame they complete to `emit`.
  void push(const float* const* planes, int64_t frames, const Emit& emit);
  // The input has ended: pads with the last frame and hands over the rest. The resampler is
  // then ready for another stream.
  void finish(const Emit& emit);

 private:
  struct Phase {
    int first_tap;  // offset of taps[0] from the block's first input frame (may be negative)
    std::vector<float> taps;
  };
  void run(int64_t output_limit, const Emit& emit);

  int64_t old_, new_;  // the rates divided by their gcd
  int channels_;
  std::vector<Phase> phases_;
  // How far the kernels reach from a block's first input frame: back (<= 0) and past the end.
  int64_t reach_back_ = 0, reach_ahead_ = 0;
  // Input not yet used up, per channel; held_[c][0] is input frame `held_start_` (negative at
  // the start: the first frame repeated, julius' replicate padding).
  std::vector<std::vector<float>> held_;
  int64_t held_start_ = 0;
  int64_t received_ = 0;  // input frames pushed so far
  int64_t produced_ = 0;  // output frames emitted so far
  bool started_ = false;
  std::vector<std::vector<float>> out_;
};

}  // namespace msaas::audio

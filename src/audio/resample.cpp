// audio/resample.cpp: julius' resample_frac as a streamed polyphase filter.
//
// julius convolves the padded input with `new` kernels at a stride of `old` (rates divided by
// their gcd): output new*q + i is kernel i applied to the input from old*q - width. Each kernel
// is a Hann-windowed sinc that is exactly zero outside 24 zero crossings, so only that stretch
// is kept; julius' other taps (the clamped ends) are below 1e-20 and change nothing.
#include "audio/resample.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

namespace msaas::audio {
namespace {

constexpr int kZeros = 24;             // julius' default: zero crossings kept on each side
constexpr double kRolloff = 0.945;     // julius' default: cutoff as a fraction of the lower Nyquist
constexpr int64_t kMaxTaps = 1 << 20;  // 4 MB of kernels at most

struct Ratio {
  int64_t old_rate, new_rate;
};

Ratio reduce(int from_rate, int to_rate) {
  int64_t g = std::gcd(static_cast<int64_t>(from_rate), static_cast<int64_t>(to_rate));
  return {from_rate / g, to_rate / g};
}

// The lowpass cutoff in cycles per (reduced) sample, as julius' `sr`.
double cutoff(const Ratio& r) {
  return static_cast<double>(std::min(r.old_rate, r.new_rate)) * kRolloff;
}

// Taps per kernel: the input frames within 24 zero crossings of the output's instant.
int64_t taps_per_phase(const Ratio& r) {
  return static_cast<int64_t>(std::ceil(2.0 * kZeros * r.old_rate / cutoff(r))) + 2;
}

double sinc(double x) {
  return x == 0.0 ? 1.0 : std::sin(x) / x;
}

// julius' output length: floor(torch.as_tensor(new * length / old)), the quotient rounded to
// float32 first. That rounding can add a frame (from about 3 s of 48 kHz input on), past 2^24
// frames also take one; the official stems have exactly this many frames.
int64_t julius_length(int64_t new_rate, int64_t old_rate, int64_t length) {
  double quotient = static_cast<double>(new_rate * length) / static_cast<double>(old_rate);
  return static_cast<int64_t>(std::floor(static_cast<float>(quotient)));
}

// 8 partial sums so that the compiler keeps them in one vector register.
float dot(const float* x, const float* taps, size_t n) {
  float acc[8] = {};
  size_t k = 0;
  for (; k + 8 <= n; k += 8)
    for (int u = 0; u < 8; ++u) acc[u] += x[k + u] * taps[k + u];
  float sum = 0.0f;
  for (; k < n; ++k) sum += x[k] * taps[k];
  for (float a : acc) sum += a;
  return sum;
}

}  // namespace

bool SincResampler::practical(int from_rate, int to_rate) {
  if (from_rate <= 0 || to_rate <= 0) return false;
  Ratio r = reduce(from_rate, to_rate);
  return r.new_rate * taps_per_phase(r) <= kMaxTaps;
}

SincResampler::SincResampler(int from_rate, int to_rate, int channels)
    : channels_(channels), held_(channels), out_(channels) {
  if (!practical(from_rate, to_rate))
    throw std::invalid_argument("no practical sinc resampler from " + std::to_string(from_rate) +
                                " Hz to " + std::to_string(to_rate) + " Hz");
  Ratio r = reduce(from_rate, to_rate);
  old_ = r.old_rate;
  new_ = r.new_rate;
  const double sr = cutoff(r);
  const double reach = kZeros * static_cast<double>(old_) / sr;  // in input frames
  phases_.resize(new_);
  for (int64_t i = 0; i < new_; ++i) {
    // Kernel i is centred on input frame old*i/new of its block; t counts zero crossings * pi.
    double centre = static_cast<double>(old_) * i / new_;
    int64_t lo = static_cast<int64_t>(std::floor(centre - reach));
    int64_t hi = static_cast<int64_t>(std::ceil(centre + reach));
    std::vector<double> taps;
    for (int64_t d = lo; d <= hi; ++d) {
      double t = (-static_cast<double>(i) / new_ + static_cast<double>(d) / old_) * sr;
      t = std::clamp(t, -static_cast<double>(kZeros), static_cast<double>(kZeros)) * M_PI;
      double window = std::cos(t / kZeros / 2);
      taps.push_back(sinc(t) * window * window);
    }
    double sum = std::accumulate(taps.begin(), taps.end(), 0.0);  // a constant stays constant
    Phase& phase = phases_[i];
    phase.first_tap = static_cast<int>(lo);
    phase.taps.reserve(taps.size());
    for (double v : taps) phase.taps.push_back(static_cast<float>(v / sum));
    reach_back_ = std::min<int64_t>(reach_back_, phase.first_tap);
    reach_ahead_ = std::max<int64_t>(reach_ahead_, phase.first_tap + phase.taps.size());
  }
}

void SincResampler::push(const float* const* planes, int64_t frames, const Emit& emit) {
  if (frames <= 0) return;
  if (!started_) {
    // julius pads the start by repeating the first frame: enough for the widest reach back.
    for (int c = 0; c < channels_; ++c) held_[c].assign(-reach_back_, planes[c][0]);
    held_start_ = reach_back_;
    started_ = true;
  }
  for (int c = 0; c < channels_; ++c)
    held_[c].insert(held_[c].end(), planes[c], planes[c] + frames);
  received_ += frames;
  // Only outputs every possible final length keeps: both roundings never decrease as input
  // arrives, and the final count is at least the smaller of the two.
  run(std::min(new_ * received_ / old_, julius_length(new_, old_, received_)), emit);
}

void SincResampler::finish(const Emit& emit) {
  if (!started_) return;
  // julius pads the end by repeating the last frame, further than any kernel reaches.
  for (int c = 0; c < channels_; ++c)
    held_[c].insert(held_[c].end(), reach_ahead_ + old_, held_[c].back());
  run(julius_length(new_, old_, received_), emit);
  // Ready for another stream.
  for (auto& h : held_) h.clear();
  held_start_ = received_ = produced_ = 0;
  started_ = false;
}

void SincResampler::run(int64_t output_limit, const Emit& emit) {
  const int64_t held_end = held_start_ + static_cast<int64_t>(held_[0].size());
  for (auto& o : out_) o.clear();
  while (produced_ < output_limit) {
    int64_t block = produced_ / new_;
    const Phase& phase = phases_[produced_ % new_];
    int64_t first = block * old_ + phase.first_tap;
    if (first + static_cast<int64_t>(phase.taps.size()) > held_end) break;  // needs more input
    for (int c = 0; c < channels_; ++c)
      out_[c].push_back(
          dot(held_[c].data() + (first - held_start_), phase.taps.data(), phase.taps.size()));
    ++produced_;
  }
  if (!out_[0].empty()) {
    std::vector<const float*> planes(channels_);
    for (int c = 0; c < channels_; ++c) planes[c] = out_[c].data();
    emit(planes.data(), static_cast<int64_t>(out_[0].size()));
  }
  // Frames before the next output's reach are done with.
  int64_t keep_from = (produced_ / new_) * old_ + reach_back_;
  int64_t drop = std::clamp<int64_t>(keep_from - held_start_, 0, held_end - held_start_);
  if (drop > 0) {
    for (auto& h : held_) h.erase(h.begin(), h.begin() + drop);
    held_start_ += drop;
  }
}

}  // namespace msaas::audio

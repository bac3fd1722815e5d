// msaas/engine.h: the Demucs engine's public API. Load an official Demucs checkpoint (or a bag of
// them) and separate audio with the same maths as demucs.apply.apply_model. No libtorch types
// appear here, so programs that include it build fast and stay small. The models folder and the
// official models are in msaas/models.h; downloading them, in msaas/download.h.
//
//   #include "msaas/engine.h"
//   #include "msaas/models.h"  // default_models_folder()
//
//   auto model = msaas::Separator::from_repo("htdemucs", msaas::default_models_folder());
//   msaas::SeparationOptions options;  // the official defaults: shifts 1, overlap 0.25
//   // mix: planar float samples at model->sample_rate(), model->audio_channels() channels
//   std::vector<float> stems = model->separate(mix.data(), frames, options);
//   // stems[(s * channels + c) * frames + t]: source model->sources()[s], channel c, frame t
//
// Thread safety: a loaded Separator does not change when it separates, so several threads may
// call separate() or separate_stream() on the same one at once, each with its own options (fast
// mode is per call), and get what the calls give one at a time (tests/engine_parity_test.cpp).
// Each call computes on up to `threads` threads of its own: calls at once compete for the cores
// (the MSaaS programs run one at a time).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "msaas/version.h"  // MSAAS_VERSION, MSAAS_VERSION_MAJOR/MINOR/PATCH

namespace msaas {

// A model that cannot be found, read or run; the message is one readable line.
class ModelError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Thrown by separate() when the progress callback asks to stop.
class Cancelled : public std::runtime_error {
 public:
  Cancelled() : std::runtime_error("separation cancelled") {}
};

struct SeparationOptions {
  int shifts = 1;                 // random time shifts averaged (the "shift trick")
  double overlap = 0.25;          // overlap between segments
  bool split = true;              // process in segments; false runs whole tracks at once (not for
                                  // transformer models on tracks longer than their segment)
  std::optional<double> segment;  // seconds per segment; default: the model's own
  std::optional<uint64_t> seed;   // seeds the shift offsets; default: random
  // Explicit shift offsets in samples, each in [0, sample_rate / 2], used in turn for every
  // model and shift (reproducing another run exactly); overrides seed.
  std::vector<int64_t> shift_offsets;
  int threads = 0;  // compute threads; 0 = the CPUs it may use (affinity, cgroup CPU quota)
  // Fast mode (not in the official tool): on CPUs with AVX-512 BF16 the linear layers,
  // attention's products, DConv's first convolution, the transposed convolutions and the
  // frequency decoders' 3x3 ones (all but the innermost) take bfloat16 factors with float32 sums;
  // the other convolutions but the 1x1 ones (the encoders' strided ones, the time decoders'
  // 3-tap ones, the innermost 3x3) run in bfloat16 through libtorch's autocast. On CPUs without
  // AVX-512 BF16, autocast also runs the 3x3 convolutions and the linear layers other than
  // attention's projections; attention's projections and products, DConv and the transposed
  // convolutions stay float32 there. The 1x1 convolutions, DConv's second convolution, the
  // normalisations and the spectrogram stay float32 everywhere. Slightly different stems (see
  // docs/quality.md).
  bool fast = false;
};

struct Progress {
  int64_t done = 0;  // segments processed, over every model of a bag and every shift
  int64_t total = 0;
  double fraction() const { return total ? static_cast<double>(done) / total : 0.0; }
};

// Called after each segment; return false to cancel (separate() then throws Cancelled).
using ProgressCallback = std::function<bool(const Progress&)>;

// Random access to the mix for streaming: fill `out` with frames [offset, offset + frames) of the
// mix, planar (channel c at out[c * frames]). Offsets are always within the mix.
using MixReader = std::function<void(int64_t offset, int64_t frames, float* out)>;

// Receives stems in time order: `frames` consecutive frames of every stem, planar
// (source s, channel c at stems[(s * channels + c) * frames]).
using StemWriter = std::function<void(const float* stems, int64_t frames)>;

class Separator {
 public:
  // Loads model `name` from `repo` like `demucs.separate -n NAME --repo DIR`: a bag NAME.yaml, a
  // file NAME.th, or a file <NAME>-<sha8>.th (checksum verified). `device`: "cpu", "cuda",
  // "cuda:N", or "auto" (the first GPU when libtorch sees one, else the CPU); a GPU needs the
  // engine built against a CUDA libtorch (-DMSAAS_CUDA=ON, docs/benchmarks.md).
  static std::unique_ptr<Separator> from_repo(const std::string& name, const std::string& repo,
                                              const std::string& device = "cpu");
  // Loads one checkpoint file.
  static std::unique_ptr<Separator> from_file(const std::string& path,
                                              const std::string& device = "cpu");
  virtual ~Separator() = default;

  virtual const std::vector<std::string>& sources() const = 0;
  virtual int sample_rate() const = 0;
  virtual int audio_channels() const = 0;
  // Longest segment in seconds a transformer model accepts (infinity for others).
  virtual double max_segment() const = 0;
  // Throws ModelError when `options` cannot work with this model (a segment over max_segment(),
  // negative shifts, an overlap outside [0, 1)); separate() checks the same before any work.
  void check(const SeparationOptions& options) const;
  virtual std::string description() const = 0;
  virtual std::string device() const = 0;  // where it runs: "cpu", "cuda:0", ...
  // Floating-point operations of one model call on one default-length segment, summed over the
  // models of a bag: convolutions, linear layers, attention and LSTMs, counted from the shapes
  // (element-wise work is left out). For benchmarks.
  virtual double flops_per_segment() const = 0;

  // Separates planar audio (channel c at mix[c * frames]) already at sample_rate() with
  // audio_channels() channels. Returns planar stems: source s, channel c at
  // out[(s * channels + c) * frames]. Normalises by the mono mix's mean and std as
  // demucs.separate does and undoes it on the output.
  std::vector<float> separate(const float* mix, int64_t frames, const SeparationOptions& options,
                              const ProgressCallback& progress = nullptr) const;

  // The same separation, streamed: the mix is read through `read` segment by segment (one extra
  // pass first for its mean and std), and stems go to `write` as soon as every segment, shift
  // and model covering them is done. Memory is bounded by the segment, not by the song.
  virtual void separate_stream(const MixReader& read, int64_t frames,
                               const SeparationOptions& options, const StemWriter& write,
                               const ProgressCallback& progress = nullptr) const = 0;
};

// How the engine computes on this machine, for logs and benchmarks, e.g. "libtorch 1.13.0,
// 2 threads, ATen kernels: avx512, OpenBLAS 0.3.21 Cooperlake kernels (shares libtorch's OpenMP
// threads)".
std::string compute_summary();

// Gives the memory the engine keeps for reuse but no longer uses back to the system: its tensor
// arena's pages past the last block in use and malloc's free memory. Each separation does this
// as it ends; a program calls it after its own work that followed (the worker, after each job's
// encoding and uploads), so an idle process holds the model and little else.
void release_unused_memory();

}  // namespace msaas

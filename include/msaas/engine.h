// msaas/engine.h: the Demucs engine's whole public API. Load an official Demucs checkpoint (or a
// bag of them) and separate audio with the same maths as demucs.apply.apply_model. No libtorch
// types appear here, so programs that include it build fast and stay small.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

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
  int threads = 0;  // compute threads; 0 = all cores
  // Fast mode (not in the official tool): convolutions, linear layers and attention in
  // bfloat16 on CPUs that have it; slightly different stems (see docs/quality.md).
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

// How the engine computes on this machine, for logs and benchmarks, e.g. "libtorch 1.13.1,
// 2 threads, OpenBLAS 0.3.21 (shares libtorch's OpenMP threads)".
std::string compute_summary();

// What a models folder holds, as the official --list-models shows it (sorted names).
struct InstalledModels {
  std::vector<std::string> bags;     // <name>.yaml
  std::vector<std::string> singles;  // <sig>[-<sha8>].th
};
InstalledModels list_installed_models(const std::string& repo);

// The models folder: $MSAAS_MODELS, else ~/.cache/msaas/models.
std::string default_models_folder();

// The official named models (demucs/remote): their files and their bag description.
struct NamedModel {
  std::string name;
  std::vector<std::string> files;  // <sig>-<sha8>.th, under the official download root
  std::string yaml;                // content of <name>.yaml
  std::string summary;
};
const std::vector<NamedModel>& official_models();
const NamedModel* find_official_model(const std::string& name);

// Where official checkpoints are downloaded from ($MSAAS_MODELS_URL overrides it).
std::string default_models_url();

struct DownloadProgress {
  std::string file;
  int64_t received = 0;  // bytes of this file so far, resumed bytes included
  int64_t total = 0;     // 0 while unknown
};

// Downloads `model`'s files from `url_root` into `folder`, then writes <name>.yaml. Each file is
// fetched to <file>.part, resumed with an HTTP Range request when a previous try broke off,
// checked against the SHA-256 prefix in its name, and only then renamed to its final name.
// Files already present and valid are kept. Throws ModelError.
void pull_model(const NamedModel& model, const std::string& folder, const std::string& url_root,
                const std::function<void(const DownloadProgress&)>& progress = nullptr);

}  // namespace msaas

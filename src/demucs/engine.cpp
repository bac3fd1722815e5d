// demucs/engine.cpp: the public Separator (msaas/engine.h) over BagOfModels + apply_model, with
// the normalisation of demucs.api.Separator.separate_tensor.
#include "msaas/engine.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "common/cpus.h"
#include "demucs/apply.h"
#include "demucs/backend.h"
#include "demucs/nn.h"
#include "demucs/repo.h"
#include "demucs/tensor_cache.h"
#include "msaas/models.h"

namespace msaas {
namespace {

// Runs the heavy operations in reduced precision while it lives (libtorch's autocast: matrix
// products and convolutions in bfloat16 on the CPU, float16 on a GPU; precision-sensitive
// operations kept in float32).
class FastMode {
 public:
  FastMode(bool on, bool gpu) : on_(on), gpu_(gpu) {
    if (!on_) return;
    if (gpu_) {
      at::autocast::set_enabled(true);
      return;
    }
    at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    at::autocast::set_cpu_enabled(true);
  }
  ~FastMode() {
    if (!on_) return;
    if (gpu_)
      at::autocast::set_enabled(false);
    else
      at::autocast::set_cpu_enabled(false);
    at::autocast::clear_cache();
  }

 private:
  bool on_, gpu_;
};

// "cpu", "cuda", "cuda:N" or "auto"; also readies the CPU kernels and allocator every model load
// needs.
at::Device prepare_device(const std::string& name) {
  demucs::prefer_avx512_kernels();
  demucs::install_tensor_cache();
  if (name == "auto") return at::hasCUDA() ? at::Device(at::kCUDA, 0) : at::Device(at::kCPU);
  std::optional<at::Device> device;
  try {
    device.emplace(name);
  } catch (const c10::Error&) {
  }
  if (!device || !(device->is_cpu() || device->is_cuda()))
    throw ModelError("unknown device '" + name + "' (use cpu, cuda, cuda:N or auto)");
  if (device->is_cuda() && !at::hasCUDA())
    throw ModelError("device " + name +
                     ": no CUDA GPU here (or this build's libtorch has no CUDA; see "
                     "-DMSAAS_CUDA in docs/benchmarks.md)");
  return *device;
}

class BagSeparator : public Separator {
 public:
  explicit BagSeparator(demucs::BagOfModels bag, std::string description)
      : bag_(std::move(bag)), description_(std::move(description)) {}

  const std::vector<std::string>& sources() const override { return bag_.first().sources; }
  int sample_rate() const override { return static_cast<int>(bag_.first().samplerate); }
  int audio_channels() const override { return static_cast<int>(bag_.first().audio_channels); }
  double max_segment() const override { return bag_.max_allowed_segment(); }
  std::string description() const override { return description_; }
  std::string device() const override { return bag_.first().device.str(); }

  double flops_per_segment() const override {
    c10::InferenceMode guard;
    auto& counter = demucs::flop_counter();
    counter = {true, 0.0};
    for (const auto& model : bag_.models) {
      int64_t length = model->valid_length(model->segment.samples(model->samplerate));
      model->forward(at::zeros({1, model->audio_channels, length}).to(model->device));
    }
    double flops = counter.flops;
    counter = {};
    return flops;
  }

  void separate_stream(const MixReader& read, int64_t frames, const SeparationOptions& options,
                       const StemWriter& write, const ProgressCallback& progress) const override {
    check(frames, options);
    // Declared first, so it runs after every tensor of this song is gone.
    struct TrimOnExit {
      ~TrimOnExit() { demucs::trim_tensor_cache(); }
    } trim;
    at::set_num_threads(options.threads > 0 ? options.threads : common::usable_cpus());
    c10::InferenceMode guard;
    FastMode fast(options.fast, bag_.first().device.is_cuda());
    int64_t channels = audio_channels();
    auto [mean, scale] = mix_statistics(read, frames, channels);
    // Normalise by the mono mix as demucs.api does (float32 arithmetic); undone on the output.
    demucs::WindowReader window = [&](int64_t offset, int64_t n) {
      auto raw = at::empty({channels, n});
      read(offset, n, raw.data_ptr<float>());
      return (raw - mean) / scale;
    };
    auto o = apply_options(options);
    Progress state{0, demucs::count_segments(bag_, frames, o)};
    o.on_segment = [&] {
      ++state.done;
      if (progress && !progress(state)) throw Cancelled();
    };
    try {
      demucs::apply_model(bag_, window, frames, o, [&](const at::Tensor& stems) {
        auto out = (stems * scale + mean).contiguous();
        write(out.data_ptr<float>(), out.size(-1));
      });
    } catch (const c10::Error& e) {
      throw ModelError(std::string("separation failed: ") + e.what_without_backtrace());
    }
  }

 private:
  void check(int64_t frames, const SeparationOptions& options) const {
    if (frames <= 0) throw ModelError("nothing to separate: the audio is empty");
    Separator::check(options);
  }

  // Mean and std + 1e-8 of the mono mix (one streaming pass), as float32 like the official code.
  static std::pair<float, float> mix_statistics(const MixReader& read, int64_t frames,
                                                int64_t channels) {
    const int64_t block = 1 << 16;
    std::vector<float> buffer(channels * block);
    double sum = 0, sum_squares = 0;
    for (int64_t at = 0; at < frames; at += block) {
      int64_t n = std::min(block, frames - at);
      read(at, n, buffer.data());
      for (int64_t i = 0; i < n; ++i) {
        float mono = 0;
        for (int64_t c = 0; c < channels; ++c) mono += buffer[c * n + i];
        mono /= static_cast<float>(channels);
        sum += mono;
        sum_squares += double(mono) * mono;
      }
    }
    double mean = sum / frames;
    double var = frames > 1 ? (sum_squares - sum * mean) / (frames - 1) : 0.0;
    float std = static_cast<float>(std::sqrt(std::max(0.0, var)));
    return {static_cast<float>(mean), std + 1e-8f};
  }

  demucs::ApplyOptions apply_options(const SeparationOptions& options) const {
    demucs::ApplyOptions o;
    o.shifts = options.shifts;
    o.split = options.split;
    o.overlap = options.overlap;
    o.segment = options.segment;
    if (o.shifts > 0 && options.shift_offsets.empty()) {
      std::mt19937_64 rng(options.seed ? *options.seed : std::random_device{}());
      o.shift_offsets = demucs::draw_shift_offsets(bag_, o.shifts, [&](int64_t max) {
        return std::uniform_int_distribution<int64_t>(0, max)(rng);
      });
    } else if (o.shifts > 0) {  // explicit offsets are used in turn, cyclically
      for (size_t i = 0; i < bag_.models.size() * o.shifts; ++i)
        o.shift_offsets.push_back(options.shift_offsets[i % options.shift_offsets.size()]);
    }
    return o;
  }

  demucs::BagOfModels bag_;
  std::string description_;
};

}  // namespace

std::unique_ptr<Separator> Separator::from_repo(const std::string& name, const std::string& repo,
                                                const std::string& device) {
  auto where = prepare_device(device);
  return std::make_unique<BagSeparator>(demucs::load_from_repo(name, repo, where), name);
}

void Separator::check(const SeparationOptions& options) const {
  if (options.segment && *options.segment > max_segment())
    throw ModelError(
        "cannot use a transformer model with a longer segment than it was trained "
        "for; maximum segment is " +
        std::to_string(max_segment()) + " s");
  if (options.shifts < 0) throw ModelError("shifts must be 0 or more");
  if (!(options.overlap >= 0 && options.overlap < 1)) throw ModelError("overlap must be in [0, 1)");
}

std::vector<float> Separator::separate(const float* mix, int64_t frames,
                                       const SeparationOptions& options,
                                       const ProgressCallback& progress) const {
  int64_t channels = audio_channels();
  int64_t sources = static_cast<int64_t>(this->sources().size());
  std::vector<float> out(static_cast<size_t>(sources * channels * std::max<int64_t>(frames, 0)));
  int64_t done = 0;
  separate_stream(
      [&](int64_t offset, int64_t n, float* dst) {
        for (int64_t c = 0; c < channels; ++c)
          std::memcpy(dst + c * n, mix + c * frames + offset, n * sizeof(float));
      },
      frames, options,
      [&](const float* stems, int64_t n) {
        for (int64_t row = 0; row < sources * channels; ++row)
          std::memcpy(out.data() + row * frames + done, stems + row * n, n * sizeof(float));
        done += n;
      },
      progress);
  return out;
}

InstalledModels list_installed_models(const std::string& repo) {
  auto listing = demucs::scan_repo(repo);
  InstalledModels installed;
  for (const auto& [name, path] : listing.bags) installed.bags.push_back(name);
  for (const auto& official : official_models())
    if (!listing.bags.count(official.name) && demucs::official_bag_present(listing, official.name))
      installed.bags.push_back(official.name);
  std::sort(installed.bags.begin(), installed.bags.end());
  for (const auto& [sig, path] : listing.singles) installed.singles.push_back(sig);
  return installed;
}

void release_unused_memory() {
  demucs::trim_tensor_cache();
}

std::unique_ptr<Separator> Separator::from_file(const std::string& path,
                                                const std::string& device) {
  auto where = prepare_device(device);
  std::vector<std::unique_ptr<demucs::Model>> models;
  models.push_back(demucs::load_model_file(path, where));
  return std::make_unique<BagSeparator>(
      demucs::BagOfModels(std::move(models), std::nullopt, std::nullopt), path);
}

}  // namespace msaas

// demucs/engine.cpp: the public Separator (msaas/engine.h) over BagOfModels + apply_model, with
// the normalisation of demucs.api.Separator.separate_tensor.
#include "msaas/engine.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>

#include <cstring>
#include <thread>

#include "demucs/apply.h"
#include "demucs/repo.h"

namespace msaas {
namespace {

class BagSeparator : public Separator {
 public:
  explicit BagSeparator(demucs::BagOfModels bag, std::string description)
      : bag_(std::move(bag)), description_(std::move(description)) {}

  const std::vector<std::string>& sources() const override { return bag_.first().sources; }
  int sample_rate() const override { return static_cast<int>(bag_.first().samplerate); }
  int audio_channels() const override { return static_cast<int>(bag_.first().audio_channels); }
  double max_segment() const override { return bag_.max_allowed_segment(); }
  std::string description() const override { return description_; }

  std::vector<float> separate(const float* mix, int64_t frames, const SeparationOptions& options,
                              const ProgressCallback& progress) const override {
    if (frames <= 0) throw ModelError("nothing to separate: the audio is empty");
    if (options.segment && *options.segment > max_segment())
      throw ModelError(
          "cannot use a transformer model with a longer segment than it was trained "
          "for; maximum segment is " +
          std::to_string(max_segment()) + " s");
    if (options.shifts < 0) throw ModelError("shifts must be 0 or more");
    if (!(options.overlap >= 0 && options.overlap < 1))
      throw ModelError("overlap must be in [0, 1)");
    at::set_num_threads(options.threads > 0 ? options.threads
                                            : std::max(1u, std::thread::hardware_concurrency()));
    c10::InferenceMode guard;
    int64_t channels = audio_channels();
    auto wav = at::from_blob(const_cast<float*>(mix), {channels, frames}, at::kFloat).clone();
    // Normalise by the mono mix, as demucs.api does; undone on the output below.
    auto ref = wav.mean(0);
    auto mean = ref.mean();
    auto scale = ref.std() + 1e-8;
    wav = (wav - mean) / scale;

    demucs::ApplyOptions o;
    o.shifts = options.shifts;
    o.split = options.split;
    o.overlap = options.overlap;
    o.segment = options.segment;
    o.shift_offsets = options.shift_offsets;
    if (o.shift_offsets.empty() && o.shifts > 0) {
      std::mt19937_64 rng(options.seed ? *options.seed : std::random_device{}());
      o.shift_offsets = demucs::draw_shift_offsets(bag_, o.shifts, [&](int64_t max) {
        return std::uniform_int_distribution<int64_t>(0, max)(rng);
      });
    } else if (o.shifts > 0) {  // explicit offsets are reused cyclically over models and shifts
      std::vector<int64_t> cycled;
      for (size_t i = 0; i < bag_.models.size() * o.shifts; ++i)
        cycled.push_back(options.shift_offsets[i % options.shift_offsets.size()]);
      o.shift_offsets = cycled;
    }
    Progress state{0, demucs::count_segments(bag_, frames, o)};
    o.on_segment = [&] {
      ++state.done;
      if (progress && !progress(state)) throw Cancelled();
    };
    at::Tensor out;
    try {
      out = demucs::apply_model(bag_, wav.unsqueeze(0), o);
    } catch (const c10::Error& e) {
      throw ModelError(std::string("separation failed: ") + e.what_without_backtrace());
    }
    out = (out[0] * scale + mean).contiguous();
    std::vector<float> result(out.numel());
    std::memcpy(result.data(), out.data_ptr<float>(), result.size() * sizeof(float));
    return result;
  }

 private:
  demucs::BagOfModels bag_;
  std::string description_;
};

}  // namespace

std::unique_ptr<Separator> Separator::from_repo(const std::string& name, const std::string& repo) {
  auto listing = demucs::scan_repo(repo);
  bool present = listing.singles.count(name) || listing.bags.count(name);
  if (!present && find_official_model(name))
    throw ModelError("model " + name + " is not installed in " + repo +
                     "; fetch it with: msaas models pull " + name);
  return std::make_unique<BagSeparator>(demucs::load_from_repo(name, repo), name);
}

InstalledModels list_installed_models(const std::string& repo) {
  auto listing = demucs::scan_repo(repo);
  InstalledModels installed;
  for (const auto& [name, path] : listing.bags) installed.bags.push_back(name);
  for (const auto& [sig, path] : listing.singles) installed.singles.push_back(sig);
  return installed;
}

std::unique_ptr<Separator> Separator::from_file(const std::string& path) {
  std::vector<std::unique_ptr<demucs::Model>> models;
  models.push_back(demucs::load_model_file(path));
  return std::make_unique<BagSeparator>(
      demucs::BagOfModels(std::move(models), std::nullopt, std::nullopt), path);
}

}  // namespace msaas

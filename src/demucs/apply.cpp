// demucs/apply.cpp: see apply.h; the same recursion as apply.apply_model: shifts -> split ->
// one padded model call per segment.
#include "demucs/apply.h"

#include <cmath>
#include <limits>

#include "msaas/engine.h"

namespace msaas::demucs {

BagOfModels::BagOfModels(std::vector<std::unique_ptr<Model>> ms,
                         std::optional<std::vector<std::vector<double>>> ws,
                         std::optional<Rational> segment)
    : models(std::move(ms)) {
  if (models.empty()) throw ModelError("a bag of models needs at least one model");
  const Model& f = first();
  for (auto& m : models) {
    if (m->sources != f.sources || m->samplerate != f.samplerate ||
        m->audio_channels != f.audio_channels)
      throw ModelError("the models of a bag must share sources, sample rate and channels");
    if (segment && !m->is_transformer() && segment->value() > m->segment.value())
      m->segment = *segment;
  }
  if (ws) {
    if (ws->size() != models.size()) throw ModelError("a bag needs one weight list per model");
    for (const auto& w : *ws)
      if (w.size() != f.sources.size())
        throw ModelError("a bag's weight lists need one weight per source");
    weights = *ws;
  } else {
    weights.assign(models.size(), std::vector<double>(f.sources.size(), 1.0));
  }
}

double BagOfModels::max_allowed_segment() const {
  double limit = std::numeric_limits<double>::infinity();
  for (const auto& m : models)
    if (m->is_transformer()) limit = std::min(limit, m->segment.value());
  return limit;
}

TensorChunk::TensorChunk(const TensorChunk& parent, int64_t off, std::optional<int64_t> len)
    : tensor(parent.tensor) {
  TORCH_CHECK(off >= 0 && off < parent.length, "chunk offset outside its parent");
  offset = parent.offset + off;
  length = len ? std::min(parent.length - off, *len) : parent.length - off;
}

at::Tensor TensorChunk::padded(int64_t target_length) const {
  int64_t delta = target_length - length;
  int64_t total = tensor.size(-1);
  TORCH_CHECK(delta >= 0, "cannot pad a chunk to a shorter length");
  int64_t start = offset - delta / 2;
  int64_t end = start + target_length;
  int64_t correct_start = std::max<int64_t>(0, start), correct_end = std::min(total, end);
  return at::constant_pad_nd(tensor.slice(-1, correct_start, correct_end),
                             {correct_start - start, end - correct_end});
}

namespace {

at::Tensor center_trim(const at::Tensor& t, int64_t length) {
  int64_t delta = t.size(-1) - length;
  TORCH_CHECK(delta >= 0, "model output shorter than its input");
  return delta ? t.slice(-1, delta / 2, t.size(-1) - (delta - delta / 2)) : t;
}

int64_t segment_samples(const Model& model, const std::optional<double>& segment) {
  if (segment) return static_cast<int64_t>(model.samplerate * *segment);
  return model.segment.samples(model.samplerate);
}

// One model call on a chunk (apply_model with split=False, shifts=0).
at::Tensor run_chunk(const Model& model, const TensorChunk& chunk, const ApplyOptions& o) {
  int64_t valid = (model.is_transformer() && o.segment)
                      ? static_cast<int64_t>(*o.segment * model.samplerate)
                      : model.valid_length(chunk.length);
  auto out = model.forward(chunk.padded(valid));
  if (o.on_segment) o.on_segment();
  return center_trim(out, chunk.length);
}

at::Tensor run_split(const Model& model, const TensorChunk& mix, const ApplyOptions& o) {
  if (!o.split) return run_chunk(model, mix, o);
  int64_t length = mix.length;
  auto input = mix.tensor;
  int64_t B = input.size(0), C = input.size(1), S = static_cast<int64_t>(model.sources.size());
  auto out = at::zeros({B, S, C, length}, input.options());
  auto sum_weight = at::zeros({length}, input.options());
  int64_t segment_length = segment_samples(model, o.segment);
  if (segment_length <= 0) throw ModelError("segment must be positive");
  int64_t stride = static_cast<int64_t>((1 - o.overlap) * segment_length);
  if (stride <= 0) throw ModelError("overlap must be below 1");
  // Triangle with its peak in the middle, normalised, to the power transition_power.
  auto weight = at::cat({at::arange(1, segment_length / 2 + 1, at::kLong),
                         at::arange(segment_length - segment_length / 2, 0, -1, at::kLong)});
  weight = at::pow(weight / weight.max(), o.transition_power);
  for (int64_t offset = 0; offset < length; offset += stride) {
    TensorChunk chunk(mix, offset, segment_length);
    auto chunk_out = run_chunk(model, chunk, o);
    int64_t n = chunk_out.size(-1);
    auto w = weight.slice(0, 0, n);
    out.slice(-1, offset, offset + n) += w * chunk_out;
    sum_weight.slice(0, offset, offset + n) += w;
  }
  TORCH_CHECK(sum_weight.min().item<float>() > 0, "segments do not cover the track");
  return out / sum_weight;
}

at::Tensor run_shifts(const Model& model, const at::Tensor& mix, const ApplyOptions& o,
                      const int64_t* offsets) {
  int64_t length = mix.size(-1);
  TensorChunk whole(mix);
  if (!o.shifts) return run_split(model, whole, o);
  int64_t max_shift = static_cast<int64_t>(0.5 * model.samplerate);
  TensorChunk padded(whole.padded(length + 2 * max_shift));
  at::Tensor out;
  for (int i = 0; i < o.shifts; ++i) {
    int64_t offset = offsets[i];
    if (offset < 0 || offset > max_shift) throw ModelError("shift offset out of range");
    TensorChunk shifted(padded, offset, length + max_shift - offset);
    auto res = run_split(model, shifted, o).slice(-1, max_shift - offset);
    out = out.defined() ? out + res : res;
  }
  return out / o.shifts;
}

int64_t split_count(const Model& model, int64_t length, const ApplyOptions& o) {
  if (!o.split) return 1;
  int64_t stride = static_cast<int64_t>((1 - o.overlap) * segment_samples(model, o.segment));
  return stride > 0 ? (length + stride - 1) / stride : 1;
}

}  // namespace

std::vector<int64_t> draw_shift_offsets(const BagOfModels& bag, int shifts,
                                        const std::function<int64_t(int64_t)>& randint) {
  std::vector<int64_t> offsets;
  for (const auto& m : bag.models)
    for (int i = 0; i < shifts; ++i) offsets.push_back(randint(m->samplerate / 2));
  return offsets;
}

int64_t count_segments(const BagOfModels& bag, int64_t length, const ApplyOptions& o) {
  int64_t total = 0;
  for (size_t m = 0; m < bag.models.size(); ++m) {
    const Model& model = *bag.models[m];
    if (!o.shifts) {
      total += split_count(model, length, o);
      continue;
    }
    int64_t max_shift = static_cast<int64_t>(0.5 * model.samplerate);
    for (int i = 0; i < o.shifts; ++i)
      total += split_count(model, length + max_shift - o.shift_offsets.at(m * o.shifts + i), o);
  }
  return total;
}

at::Tensor apply_model(const BagOfModels& bag, const at::Tensor& mix, const ApplyOptions& o) {
  if (o.transition_power < 1) throw ModelError("transition_power < 1 is not allowed");
  at::Tensor estimates;
  std::vector<double> totals(bag.first().sources.size(), 0.0);
  if (o.shifts && o.shift_offsets.size() < bag.models.size() * o.shifts)
    throw ModelError("apply_model needs one shift offset per model and shift");
  for (size_t m = 0; m < bag.models.size(); ++m) {
    auto out = run_shifts(*bag.models[m], mix, o, o.shift_offsets.data() + m * o.shifts);
    for (size_t k = 0; k < totals.size(); ++k) {
      out.select(1, k).mul_(bag.weights[m][k]);
      totals[k] += bag.weights[m][k];
    }
    estimates = estimates.defined() ? estimates + out : out;
  }
  for (size_t k = 0; k < totals.size(); ++k) estimates.select(1, k).div_(totals[k]);
  return estimates;
}

}  // namespace msaas::demucs

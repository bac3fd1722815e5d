// demucs/apply.cpp: see apply.h. The Python recursion (shifts -> split -> one padded model call
// per segment) unrolled into passes that advance together, so results can leave early.
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

namespace {

int64_t segment_samples(const Model& model, const std::optional<double>& segment) {
  if (segment) return static_cast<int64_t>(model.samplerate * *segment);
  return model.segment.samples(model.samplerate);
}

// One (model, shift) pass of apply_model. Positions are frames p of the original mix; the
// Python code's shifted coordinate is q = p + lead (lead = max_shift - offset, 0 without shifts).
struct Pass {
  const Model* model = nullptr;
  int64_t lead = 0;
  int64_t pass_length = 0;  // length of the (shifted) signal the segments cover
  int64_t segment_length = 0, stride = 0;
  int64_t segments = 0, next = 0;  // segment count, next segment to run
  at::Tensor weight;               // transition weights over one segment
  at::Tensor acc, weight_sum;      // running sums for frames [base, base + acc.size(-1))
  int64_t base = 0;

  bool done() const { return next >= segments; }
  // Frames p < frontier() will receive no more contributions.
  int64_t frontier(int64_t length) const {
    return done() ? length : std::min(length, next * stride - lead);
  }
};

// Window [start, start + n) of the mix, silence outside it (TensorChunk.padded).
at::Tensor read_padded(const WindowReader& read, int64_t start, int64_t n, int64_t length,
                       int64_t channels) {
  int64_t from = std::max<int64_t>(0, start), to = std::min(length, start + n);
  if (from == start && to == start + n) return read(start, n);
  auto window = at::zeros({channels, n});
  if (to > from) window.slice(1, from - start, to - start).copy_(read(from, to - from));
  return window;
}

at::Tensor center_trim(const at::Tensor& t, int64_t length) {
  int64_t delta = t.size(-1) - length;
  TORCH_CHECK(delta >= 0, "model output shorter than its input");
  return delta ? t.slice(-1, delta / 2, t.size(-1) - (delta - delta / 2)) : t;
}

std::vector<Pass> plan_passes(const BagOfModels& bag, int64_t length, const ApplyOptions& o) {
  std::vector<Pass> passes;
  for (size_t m = 0; m < bag.models.size(); ++m) {
    const Model& model = *bag.models[m];
    int64_t max_shift = static_cast<int64_t>(0.5 * model.samplerate);
    int count = o.shifts ? o.shifts : 1;
    for (int i = 0; i < count; ++i) {
      Pass p;
      p.model = &model;
      if (o.shifts) {
        int64_t offset = o.shift_offsets.at(m * o.shifts + i);
        if (offset < 0 || offset > max_shift) throw ModelError("shift offset out of range");
        p.lead = max_shift - offset;
      }
      p.pass_length = length + p.lead;
      if (o.split) {
        p.segment_length = segment_samples(model, o.segment);
        if (p.segment_length <= 0) throw ModelError("segment must be positive");
        p.stride = static_cast<int64_t>((1 - o.overlap) * p.segment_length);
        if (p.stride <= 0) throw ModelError("overlap must be below 1");
        // A triangle peaking mid-segment, normalised, to the power transition_power.
        int64_t L = p.segment_length;
        auto w =
            at::cat({at::arange(1, L / 2 + 1, at::kLong), at::arange(L - L / 2, 0, -1, at::kLong)});
        p.weight = at::pow(w / w.max(), o.transition_power);
      } else {  // split=False: one unweighted model call over the whole pass
        p.segment_length = p.stride = p.pass_length;
        p.weight = at::ones({p.pass_length});
      }
      p.segments = (p.pass_length + p.stride - 1) / p.stride;
      passes.push_back(std::move(p));
    }
  }
  return passes;
}

// Runs the pass's next segment and adds its weighted output to the pass's sums.
void run_segment(Pass& p, const WindowReader& read, int64_t length, int64_t channels,
                 const ApplyOptions& o) {
  const Model& model = *p.model;
  int64_t q0 = p.next * p.stride;
  int64_t chunk = std::min(p.segment_length, p.pass_length - q0);
  int64_t valid = (model.is_transformer() && o.segment)
                      ? static_cast<int64_t>(*o.segment * model.samplerate)
                      : model.valid_length(chunk);
  int64_t delta = valid - chunk;  // context taken evenly from both sides, as TensorChunk does
  auto input = read_padded(read, q0 - delta / 2 - p.lead, valid, length, channels);
  // The model runs on its device; sums over segments stay on the CPU.
  auto y = center_trim(model.forward(input.unsqueeze(0).to(model.device)), chunk)[0].to(at::kCPU);
  ++p.next;
  if (o.on_segment) o.on_segment();
  // Keep what falls inside the mix: p = q - lead in [0, length).
  int64_t start = q0 - p.lead;
  int64_t skip = std::max<int64_t>(0, -start);
  int64_t end = std::min(length, start + chunk);
  if (end <= start + skip) return;
  auto w = p.weight.slice(0, skip, end - start);
  auto contribution = w * y.slice(-1, skip, end - start);
  if (!p.acc.defined()) {
    p.acc = at::zeros({y.size(0), y.size(1), 0});
    p.weight_sum = at::zeros({0});
  }
  int64_t grow = end - p.base - p.acc.size(-1);
  if (grow > 0) {
    p.acc = at::cat({p.acc, at::zeros({y.size(0), y.size(1), grow})}, -1);
    p.weight_sum = at::cat({p.weight_sum, at::zeros({grow})});
  }
  p.acc.slice(-1, start + skip - p.base, end - p.base) += contribution;
  p.weight_sum.slice(0, start + skip - p.base, end - p.base) += w;
}

// The pass's result for frames [base, until): sums over weights. Forgets those frames.
at::Tensor take_result(Pass& p, int64_t until) {
  int64_t n = until - p.base;
  auto sums = p.weight_sum.slice(0, 0, n);
  TORCH_CHECK(sums.min().item<float>() > 0, "segments do not cover the track");
  auto out = p.acc.slice(-1, 0, n) / sums;
  p.acc = p.acc.slice(-1, n).clone();
  p.weight_sum = p.weight_sum.slice(0, n).clone();
  p.base = until;
  return out;
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
  for (const auto& p : plan_passes(bag, length, o)) total += p.segments;
  return total;
}

void apply_model(const BagOfModels& bag, const WindowReader& read, int64_t length,
                 const ApplyOptions& o, const ResultSink& sink) {
  if (o.transition_power < 1) throw ModelError("transition_power < 1 is not allowed");
  if (o.shifts && o.shift_offsets.size() < bag.models.size() * o.shifts)
    throw ModelError("apply_model needs one shift offset per model and shift");
  int64_t channels = bag.first().audio_channels;
  auto passes = plan_passes(bag, length, o);
  std::vector<double> totals(bag.first().sources.size(), 0.0);
  for (const auto& model_weights : bag.weights)
    for (size_t k = 0; k < totals.size(); ++k) totals[k] += model_weights[k];
  int passes_per_model = o.shifts ? o.shifts : 1;
  for (int64_t emitted = 0; emitted < length;) {
    // Advance the pass that holds the output back the most.
    Pass* slowest = nullptr;
    for (auto& p : passes)
      if (!p.done() && (!slowest || p.frontier(length) < slowest->frontier(length))) slowest = &p;
    if (slowest) run_segment(*slowest, read, length, channels, o);
    int64_t ready = length;
    for (const auto& p : passes) ready = std::min(ready, p.frontier(length));
    if (ready <= emitted) continue;
    // Combine as the Python code does: mean over shifts, then bag weights over models.
    at::Tensor estimates;
    for (size_t m = 0; m < bag.models.size(); ++m) {
      at::Tensor out;
      for (int i = 0; i < passes_per_model; ++i) {
        auto res = take_result(passes[m * passes_per_model + i], ready);
        out = out.defined() ? out + res : res;
      }
      if (o.shifts) out = out / o.shifts;
      for (size_t k = 0; k < totals.size(); ++k) out.select(0, k).mul_(bag.weights[m][k]);
      estimates = estimates.defined() ? estimates + out : out;
    }
    for (size_t k = 0; k < totals.size(); ++k) estimates.select(0, k).div_(totals[k]);
    sink(estimates);
    emitted = ready;
  }
}

}  // namespace msaas::demucs

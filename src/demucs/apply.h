// demucs/apply.h: demucs/apply.py: BagOfModels and apply_model (segments with overlap and
// triangular weights, the shift trick, bag weights), streamed segment by segment.
#pragma once

#include <ATen/ATen.h>

#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <vector>

#include "demucs/model.h"

namespace msaas::demucs {

struct BagOfModels {
  std::vector<std::unique_ptr<Model>> models;
  std::vector<std::vector<double>> weights;  // [model][source]

  // Checks that the models agree and applies the bag's segment as the Python constructor does.
  BagOfModels(std::vector<std::unique_ptr<Model>> models,
              std::optional<std::vector<std::vector<double>>> weights,
              std::optional<Rational> segment);
  const Model& first() const { return *models.front(); }
  double max_allowed_segment() const;  // shortest transformer segment, or infinity
};

struct ApplyOptions {
  int shifts = 1;
  bool split = true;
  double overlap = 0.25;
  double transition_power = 1.0;
  std::optional<double> segment;  // seconds; default each model's own
  // The shift trick's offsets, drawn up front so progress can be counted exactly:
  // model m's shift i uses shift_offsets[m * shifts + i], each in [0, samplerate / 2].
  std::vector<int64_t> shift_offsets;
  std::function<void()> on_segment;  // after each model call
};

// Draws the offsets for `options.shifts` with `randint(0, max_shift)`, in the order the Python
// code draws them (model by model).
std::vector<int64_t> draw_shift_offsets(const BagOfModels& bag, int shifts,
                                        const std::function<int64_t(int64_t)>& randint);

// Number of model calls apply_model will make for `length` samples (for progress reports).
int64_t count_segments(const BagOfModels& bag, int64_t length, const ApplyOptions& options);

// Reads frames [offset, offset + frames) of the (normalised) mix as a [C, frames] tensor; the
// range always lies within the mix.
using WindowReader = std::function<at::Tensor(int64_t offset, int64_t frames)>;
// Receives consecutive [S, C, n] pieces of the result, in time order.
using ResultSink = std::function<void(const at::Tensor& stems)>;

// apply_model over a mix of `length` frames, streamed: each (model, shift) pass runs its
// segments in time order, and a stretch of output is handed to `sink` once every pass has
// finished all segments covering it. Same arithmetic as the Python recursion
// (shifts -> split -> padded model call), pass by pass.
void apply_model(const BagOfModels& bag, const WindowReader& read, int64_t length,
                 const ApplyOptions& options, const ResultSink& sink);

}  // namespace msaas::demucs

// demucs/model.h: what apply.cpp needs of a model (HTDemucs, HDemucs): its forward pass and the
// attributes the Python classes carry (sources, samplerate, audio_channels, segment).
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "demucs/nn.h"

namespace msaas::demucs {

class Model {
 public:
  virtual ~Model() = default;
  // mix: [B, audio_channels, T] -> [B, sources, audio_channels, T]
  virtual at::Tensor forward(const at::Tensor& mix) const = 0;
  // HTDemucs.valid_length; models without one return `length` (apply_model's fallback).
  virtual int64_t valid_length(int64_t length) const { return length; }
  virtual bool is_transformer() const { return false; }
  virtual std::string klass() const = 0;

  std::vector<std::string> sources;
  int64_t samplerate = 44100;
  int64_t audio_channels = 2;
  Rational segment;
  at::Device device = at::kCPU;  // where its weights live and forward() runs
};

}  // namespace msaas::demucs

// demucs/nn.h: the few torch.nn building blocks the Demucs models use, as plain structs holding
// their tensors, plus Weights (a checkpoint's state, taken by name) and Kwargs (typed access to
// the checkpoint's constructor arguments, with the Python defaults supplied by the caller).
#pragma once

#include <ATen/ATen.h>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "demucs/linear_f32_cpu.h"
#include "demucs/pickle.h"

namespace msaas::demucs {

// The state dict. take() hands out each tensor once, as float32, and checks its shape;
// check_all_used() then plays the part of load_state_dict's strict check.
class Weights {
 public:
  explicit Weights(std::map<std::string, at::Tensor> state) : state_(std::move(state)) {}
  at::Tensor take(const std::string& name, std::vector<int64_t> shape = {});
  // As stored: the official checkpoints keep their weights in float16. The large matrices stay
  // so in memory (half the size) and go through as_float() where used: float16 values are exact
  // in float32, so the arithmetic is the one load_state_dict into a float32 model gives.
  at::Tensor take_stored(const std::string& name, std::vector<int64_t> shape = {});
  bool has(const std::string& name) const { return state_.count(name) > 0; }
  void check_all_used() const;

 private:
  std::map<std::string, at::Tensor> state_;
  std::set<std::string> used_;
};

class Kwargs {
 public:
  explicit Kwargs(pickle::ValuePtr dict) : dict_(std::move(dict)) {}
  int64_t integer(const std::string& name, int64_t fallback) const;
  double number(const std::string& name, double fallback) const;
  bool flag(const std::string& name, bool fallback) const;
  std::string text(const std::string& name, const std::string& fallback) const;
  bool is_none(const std::string& name) const;  // absent counts as "not None"
  bool has(const std::string& name) const { return dict_->get(name) != nullptr; }
  pickle::ValuePtr raw(const std::string& name) const { return dict_->get(name); }
  std::vector<std::string> strings(const std::string& name) const;

 private:
  pickle::ValuePtr dict_;
};

// An exact rational, for `segment` (a fractions.Fraction in the checkpoints).
struct Rational {
  int64_t num = 0, den = 1;
  double value() const { return static_cast<double>(num) / den; }
  // int(samplerate * segment), exactly as Python computes it for a Fraction.
  int64_t samples(int64_t samplerate) const { return samplerate * num / den; }
  static Rational from(const pickle::ValuePtr& v, Rational fallback);
};

// Multiply-accumulate work of the heavy operations (convolutions, linear layers, attention
// products, LSTMs), counted from shapes while `counting` is on: 2 FLOPs per multiply-add.
struct FlopCounter {
  bool counting = false;
  double flops = 0;
  void add(double multiply_adds) {
    if (counting) flops += 2 * multiply_adds;
  }
};
FlopCounter& flop_counter();  // this thread's

// A weight kept as stored (Weights::take_stored), in float32 for use.
inline at::Tensor as_float(const at::Tensor& t) {
  return t.scalar_type() == at::kFloat ? t : t.to(at::kFloat);
}

struct Conv {
  at::Tensor weight, bias;
  std::vector<int64_t> stride, padding, dilation;
  bool transposed = false;
  at::Tensor operator()(const at::Tensor& x) const;
  // glu(this(x), dim 1) in one pass where x is on the CPU and this is a 1x1 convolution
  // (pointwise_cpu.h, either mode, where the CPU has AVX-512F), a 3x3 one with stride 1,
  // padding 1 and no dilation (winograd_cpu.h; in fast mode where the CPU has AVX-512 BF16), or
  // in the exact mode a 3-tap one along one axis, stride 1, padding 1 (winograd_cpu.h, where the
  // CPU has AVX-512F); nullopt elsewhere, and where the kernel declines (an image too small for
  // Winograd).
  std::optional<at::Tensor> glu_in_one_pass(const at::Tensor& x) const;

 private:
  at::Tensor aten(const at::Tensor& x, const at::Tensor& w) const;  // ATen's convolution
};

enum class ConvKind { forward, transposed };  // nn.Conv*d or nn.ConvTranspose*d

// Loads `prefix.weight` / `prefix.bias`. dims: 1 or 2. Stride/padding/dilation per dimension.
Conv make_conv(Weights& w, const std::string& prefix, int dims, int64_t in, int64_t out,
               std::vector<int64_t> kernel, std::vector<int64_t> stride = {},
               std::vector<int64_t> padding = {}, std::vector<int64_t> dilation = {},
               ConvKind kind = ConvKind::forward);

struct GroupNorm {
  int64_t groups = 1;
  at::Tensor weight, bias;
  double eps = 1e-5;
  bool identity = false;  // nn.Identity where the layer has no norm
  at::Tensor operator()(const at::Tensor& x) const;
};
GroupNorm make_group_norm(Weights& w, const std::string& prefix, int64_t groups, int64_t channels);
GroupNorm no_norm();

struct LayerNorm {
  at::Tensor weight, bias;
  double eps = 1e-5;
  at::Tensor operator()(const at::Tensor& x) const;
};
LayerNorm make_layer_norm(Weights& w, const std::string& prefix, int64_t dim, double eps = 1e-5);

struct Linear {
  at::Tensor weight, bias;
  // Fast mode takes int8 factors where int8_products_preferred() (linear_int8_cpu): the
  // transformer's layers, whose quality cost was measured (docs/quality.md).
  bool int8_in_fast_mode = false;
  // x weight^T + bias, then the activation `then` names, in place (the exact mode's on each
  // block of rows while it is in the cache: linear_f32_cpu).
  at::Tensor operator()(const at::Tensor& x, AfterLinear then = AfterLinear::nothing) const;
};
Linear make_linear(Weights& w, const std::string& prefix, int64_t in, int64_t out);

}  // namespace msaas::demucs

// demucs/nn.cpp: see nn.h.
#include "demucs/nn.h"

#include <ATen/autocast_mode.h>
#include <c10/core/impl/LocalDispatchKeySet.h>

#include <algorithm>
#include <optional>

#include "demucs/bf16_cpu.h"
#include "demucs/conv_cpu.h"
#include "demucs/f32_cpu.h"
#include "demucs/linear_f32_cpu.h"
#include "demucs/linear_int8_cpu.h"
#include "demucs/pointwise_cpu.h"
#include "demucs/winograd_cpu.h"
#include "msaas/engine.h"

namespace msaas::demucs {
namespace {

// In fast mode, the 1x1 and transposed convolutions the engine's kernels refuse run in float32
// through ATen: in bfloat16 oneDNN ran them no faster and made large float32 buffers of its own
// (126 MB at the outer encoder's rewrite, 84 MB at the outer decoder), the fast mode's memory
// peak (docs/benchmarks.md, point 22).
bool is_one_by_one(const at::Tensor& weight) {
  return weight.numel() == weight.size(0) * weight.size(1);
}

bool runs_float32_in_fast_mode(const at::Tensor& weight, bool transposed) {
  return transposed || is_one_by_one(weight);
}

}  // namespace

at::Tensor Weights::take(const std::string& name, std::vector<int64_t> shape) {
  return as_float(take_stored(name, std::move(shape)));
}

at::Tensor Weights::take_stored(const std::string& name, std::vector<int64_t> shape) {
  auto it = state_.find(name);
  if (it == state_.end())
    throw ModelError("checkpoint does not fit its model: missing '" + name + "'");
  if (!shape.empty() && it->second.sizes() != at::IntArrayRef(shape)) {
    std::string want, got;
    for (auto d : shape) want += std::to_string(d) + " ";
    for (auto d : it->second.sizes()) got += std::to_string(d) + " ";
    throw ModelError("checkpoint does not fit its model: '" + name + "' has shape [ " + got +
                     "], expected [ " + want + "]");
  }
  used_.insert(name);
  return it->second;
}

void Weights::check_all_used() const {
  for (const auto& [name, tensor] : state_)
    if (!used_.count(name))
      throw ModelError("checkpoint does not fit its model: unexpected '" + name + "'");
}

int64_t Kwargs::integer(const std::string& name, int64_t fallback) const {
  auto v = dict_->get(name);
  if (!v || v->is(pickle::Value::Kind::none)) return fallback;
  if (v->is(pickle::Value::Kind::integer)) return v->integer;
  if (v->is(pickle::Value::Kind::boolean)) return v->boolean;
  if (v->is(pickle::Value::Kind::real) && v->real == static_cast<int64_t>(v->real))
    return static_cast<int64_t>(v->real);
  throw ModelError("model argument '" + name + "' should be an integer, not " + v->describe());
}

double Kwargs::number(const std::string& name, double fallback) const {
  auto v = dict_->get(name);
  if (!v || v->is(pickle::Value::Kind::none)) return fallback;
  try {
    return v->as_number();
  } catch (const pickle::PickleError&) {
    throw ModelError("model argument '" + name + "' should be a number, not " + v->describe());
  }
}

bool Kwargs::flag(const std::string& name, bool fallback) const {
  auto v = dict_->get(name);
  if (!v) return fallback;
  if (v->is(pickle::Value::Kind::none)) return false;
  return number(name, fallback) != 0.0;
}

std::string Kwargs::text(const std::string& name, const std::string& fallback) const {
  auto v = dict_->get(name);
  if (!v) return fallback;
  if (!v->is(pickle::Value::Kind::string))
    throw ModelError("model argument '" + name + "' should be a string, not " + v->describe());
  return v->text;
}

bool Kwargs::is_none(const std::string& name) const {
  auto v = dict_->get(name);
  return v && v->is(pickle::Value::Kind::none);
}

std::vector<std::string> Kwargs::strings(const std::string& name) const {
  auto v = dict_->get(name);
  if (!v || !(v->is(pickle::Value::Kind::list) || v->is(pickle::Value::Kind::tuple)))
    throw ModelError("model argument '" + name + "' should be a list of names");
  std::vector<std::string> out;
  for (const auto& item : v->items) {
    if (!item->is(pickle::Value::Kind::string))
      throw ModelError("model argument '" + name + "' holds a " + item->describe());
    out.push_back(item->text);
  }
  return out;
}

Rational Rational::from(const pickle::ValuePtr& v, Rational fallback) {
  if (!v || v->is(pickle::Value::Kind::none)) return fallback;
  if (v->is(pickle::Value::Kind::fraction)) return {v->integer, v->denominator};
  if (v->is(pickle::Value::Kind::integer)) return {v->integer, 1};
  if (v->is(pickle::Value::Kind::real)) {
    // A float segment: keep enough precision that int(samplerate * segment) matches Python.
    const int64_t den = 1000000;
    return {static_cast<int64_t>(std::llround(v->real * den)), den};
  }
  throw ModelError("model argument 'segment' should be a number, not " + v->describe());
}

FlopCounter& flop_counter() {
  thread_local FlopCounter counter;
  return counter;
}

at::Tensor Conv::aten(const at::Tensor& x, const at::Tensor& w) const {
  if (transposed)
    return weight.dim() == 4 ? at::conv_transpose2d(x, w, bias, stride)
                             : at::conv_transpose1d(x, w, bias, stride);
  return weight.dim() == 4 ? at::conv2d(x, w, bias, stride, padding, dilation)
                           : at::conv1d(x, w, bias, stride, padding, dilation);
}

// Fast mode (CPU autocast on) runs the convolutions the engine's kernels take (conv_cpu.h) on
// them, where the CPU has AVX-512 BF16: the transposed and the large 3x3 ones from bfloat16
// factors with float32 sums, about as fast as oneDNN's bfloat16 overall and without its output
// rounding, the
// 1x1 ones in float32 (docs/benchmarks.md, point 26). Autocast keeps the rest: the encoders'
// strided convolutions, the 3x3 ones too small for Winograd, the time branch's 3-tap rewrites,
// and, on CPUs without AVX-512 BF16, every convolution but the 1x1 and transposed ones.
at::Tensor Conv::operator()(const at::Tensor& x) const {
  auto w = as_float(weight);
  std::optional<at::Tensor> computed;
  if (at::autocast::is_cpu_enabled() && x.is_cpu()) {
    bool float32 = runs_float32_in_fast_mode(weight, transposed);
    if (float32 || bf16_products_available()) {
      c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::DispatchKey::AutocastCPU);
      auto input = x.to(at::kFloat);
      computed = conv_cpu(input, w, bias, stride, padding, dilation, transposed, true);
      if (!computed && float32) computed = aten(input, w);
    }
  } else {
    computed = conv_cpu(x, w, bias, stride, padding, dilation, transposed);
  }
  at::Tensor y = computed ? std::move(*computed) : aten(x, w);
  // Each output (input, when transposed) position costs one weight's worth of multiply-adds
  // per batch item and output channel group.
  const at::Tensor& positions = transposed ? x : y;
  double per_position = static_cast<double>(weight.numel());
  double count = positions.size(0);
  for (int64_t d = 2; d < positions.dim(); ++d) count *= positions.size(d);
  flop_counter().add(per_position * count);
  return y;
}

std::optional<at::Tensor> Conv::glu_in_one_pass(const at::Tensor& x) const {
  auto all = [](const std::vector<int64_t>& v, int64_t value) {
    return std::all_of(v.begin(), v.end(), [value](int64_t s) { return s == value; });
  };
  bool one_by_one = !transposed && is_one_by_one(weight) && all(stride, 1) && all(padding, 0);
  // The 3x3 and (exact mode) 3-tap ones Conv::operator() hands to winograd_cpu.h (through
  // conv_cpu).
  bool plain_3x3 = !transposed && x.dim() == 4 && is_plain_3x3(weight, stride, padding, dilation);
  bool fast = at::autocast::is_cpu_enabled();
  bool plain_3tap =
      !transposed && !fast && x.dim() == 3 && is_plain_3tap(weight, stride, padding, dilation);
  if (!(one_by_one || plain_3x3 || plain_3tap) || !x.is_cpu() || x.dim() < 2 || x.size(1) == 0)
    return std::nullopt;
  // As operator() runs them: 1x1 ones in float32 in both modes, 3x3 ones from bfloat16 factors
  // in fast mode where the CPU has AVX-512 BF16 (autocast's oneDNN elsewhere: nullopt).
  if (one_by_one ? !f32_products_available() : fast && !bf16_products_available())
    return std::nullopt;
  std::optional<at::Tensor> y;
  {
    c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::DispatchKey::AutocastCPU);
    auto input = fast ? x.to(at::kFloat) : x;
    auto w = as_float(weight);
    if (one_by_one)
      y = pointwise_glu_cpu(input, w, bias);
    else if (plain_3tap)
      y = winograd_conv3tap_glu(input, w, bias);
    else
      y = winograd_conv3x3_glu(input, w, bias, fast);
  }
  if (y) flop_counter().add(static_cast<double>(weight.numel()) * (x.numel() / x.size(1)));
  return y;
}

Conv make_conv(Weights& w, const std::string& prefix, int dims, int64_t in, int64_t out,
               std::vector<int64_t> kernel, std::vector<int64_t> stride,
               std::vector<int64_t> padding, std::vector<int64_t> dilation, ConvKind kind) {
  bool transposed = kind == ConvKind::transposed;
  auto fill = [dims](std::vector<int64_t> v, int64_t value) {
    if (v.empty()) v.assign(dims, value);
    if (v.size() == 1 && dims == 2) v.push_back(v[0]);
    return v;
  };
  kernel = fill(kernel, 1);
  // One list, not a choice between two lists: GCC 12 reports a false -Wstringop-overflow there.
  std::vector<int64_t> shape = {transposed ? in : out, transposed ? out : in};
  shape.insert(shape.end(), kernel.begin(), kernel.end());
  Conv conv;
  conv.weight = w.take_stored(prefix + ".weight", shape);
  conv.bias = w.take(prefix + ".bias", {out});
  conv.stride = fill(stride, 1);
  conv.padding = fill(padding, 0);
  conv.dilation = fill(dilation, 1);
  conv.transposed = transposed;
  return conv;
}

at::Tensor GroupNorm::operator()(const at::Tensor& x) const {
  if (identity) return x;
  // Fast mode hands bfloat16 activations in; normalisation stays in float32 (as PyTorch's
  // autocast does for norms), so its weights' type is the one used.
  return at::group_norm(x.to(weight.scalar_type()), groups, weight, bias, eps);
}

GroupNorm make_group_norm(Weights& w, const std::string& prefix, int64_t groups, int64_t channels) {
  GroupNorm norm;
  norm.groups = groups;
  norm.weight = w.take(prefix + ".weight", {channels});
  norm.bias = w.take(prefix + ".bias", {channels});
  return norm;
}

GroupNorm no_norm() {
  GroupNorm norm;
  norm.identity = true;
  return norm;
}

at::Tensor LayerNorm::operator()(const at::Tensor& x) const {
  return at::layer_norm(x.to(weight.scalar_type()), {weight.size(0)}, weight, bias, eps);
}

LayerNorm make_layer_norm(Weights& w, const std::string& prefix, int64_t dim, double eps) {
  return {w.take(prefix + ".weight", {dim}), w.take(prefix + ".bias", {dim}), eps};
}

// Fast mode on a CPU with AVX-512 BF16: bfloat16 factors with float32 sums and a float32 output
// (linear_bf16_cpu), as fast as autocast's bfloat16 product, which rounds its output to bfloat16
// and makes every next element-wise op cast it back; int8 factors where asked for
// (int8_in_fast_mode and int8_products_preferred: fast_linear_cpu). Elsewhere autocast's. The exact
// mode's run on the float32 kernel where the CPU has AVX-512F (linear_f32_cpu), else at::linear.
at::Tensor Linear::operator()(const at::Tensor& x, AfterLinear then) const {
  flop_counter().add(static_cast<double>(x.numel()) / x.size(-1) * weight.numel());
  at::Tensor y;
  if (at::autocast::is_cpu_enabled() && x.is_cpu()) {
    c10::impl::ExcludeDispatchKeyGuard keep_float32(c10::DispatchKey::AutocastCPU);
    if (auto fast = fast_linear_cpu(x.to(at::kFloat), as_float(weight), bias, int8_in_fast_mode))
      y = std::move(*fast);
  }
  if (!y.defined()) {
    if (auto exact = linear_f32_cpu(x, as_float(weight), bias, then)) return *exact;
    y = at::linear(x, as_float(weight), bias);
  }
  // In place: y is this layer's own (see HDecLayer on autocast and gelu_).
  if (then == AfterLinear::gelu) return at::gelu_(y);
  return then == AfterLinear::relu ? at::relu_(y) : y;
}

Linear make_linear(Weights& w, const std::string& prefix, int64_t in, int64_t out) {
  return {w.take_stored(prefix + ".weight", {out, in}), w.take(prefix + ".bias", {out})};
}

}  // namespace msaas::demucs

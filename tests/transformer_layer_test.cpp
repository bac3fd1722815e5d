// The transformer layers' wiring in fast mode (and the exact mode's feed-forward layers): where the
// CPU has AVX-512 BF16, a norm-first layer's feed-forward half (its norm, both linear layers,
// LayerScale, the residual sum) runs in one pass (feed_forward_bf16_cpu.h), chosen inside
// TransformerLayer, with int8 factors where MSAAS_FAST_INT8=1 asks for them, as attention's
// projections (linear_int8_cpu.h). The kernels' own tests check the pass's arithmetic; these check
// that the layer hands it the right norm and scale (norm2 in self-attention layers, norm3 in
// cross-attention ones, gamma_2) and, where it must (group norms, norm after the layers), runs the
// norm and the residual sum apart, the linear layers still in one pass. The reference is the same
// layer in the exact mode, which the real-model parity tests hold to the official code.
#include <ATen/ATen.h>
#include <ATen/autocast_mode.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <map>
#include <string>

#include "demucs/attention_cpu.h"
#include "demucs/bf16_cpu.h"
#include "demucs/int8_cpu.h"
#include "demucs/linear_int8_cpu.h"
#include "demucs/transformer.h"
#include "support.h"

namespace msaas::test {
namespace {

constexpr int64_t kDim = 48, kHeads = 4;

// Random weights for one layer, each norm's scale and shift clearly its own, so that a layer
// that takes another norm's (or gamma_1 for gamma_2) lands far from the reference.
std::map<std::string, at::Tensor> random_layer(const std::string& p, bool cross) {
  std::map<std::string, at::Tensor> w;
  std::string attn = p + (cross ? ".cross_attn" : ".self_attn");
  w[attn + ".in_proj_weight"] = at::randn({3 * kDim, kDim}) * 0.2;
  w[attn + ".in_proj_bias"] = at::randn({3 * kDim}) * 0.1;
  w[attn + ".out_proj.weight"] = at::randn({kDim, kDim}) * 0.2;
  w[attn + ".out_proj.bias"] = at::randn({kDim}) * 0.1;
  w[p + ".linear1.weight"] = at::randn({4 * kDim, kDim}) * 0.2;
  w[p + ".linear1.bias"] = at::randn({4 * kDim}) * 0.1;
  w[p + ".linear2.weight"] = at::randn({kDim, 4 * kDim}) * 0.1;
  w[p + ".linear2.bias"] = at::randn({kDim}) * 0.1;
  int norms = cross ? 3 : 2;
  for (int i = 1; i <= norms; ++i) {
    std::string n = p + ".norm" + std::to_string(i);
    w[n + ".weight"] = at::rand({kDim}) * 2 * i - i / 2.0;
    w[n + ".bias"] = at::randn({kDim}) * i;
  }
  w[p + ".norm_out.weight"] = at::rand({kDim}) + 0.5;
  w[p + ".norm_out.bias"] = at::randn({kDim}) * 0.1;
  w[p + ".gamma_1.scale"] = at::rand({kDim}) * 0.2;
  w[p + ".gamma_2.scale"] = at::rand({kDim}) * 2 + 0.5;
  return w;  // MyGroupNorm(1, dim) has the same weight names as the layer norm
}

struct Case {
  bool cross, layer_scale, group_norm, norm_out, norm_first = true;
};

demucs::TransformerConfig config_of(const Case& c) {
  demucs::TransformerConfig config;
  config.dim = kDim;
  config.num_heads = kHeads;
  config.layer_scale = c.layer_scale;
  config.group_norm = c.group_norm;
  config.norm_out = c.norm_out;
  config.norm_first = c.norm_first;
  return config;
}

// The layer's output in fast mode (autocast, as the engine sets it) or the exact mode.
at::Tensor run_layer(const demucs::TransformerLayer& layer, const at::Tensor& x,
                     const at::Tensor& other, bool fast) {
  if (fast) {
    at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    at::autocast::set_cpu_enabled(true);
  }
  auto y = layer(x, other).to(at::kFloat);
  if (fast) at::autocast::set_cpu_enabled(false);
  return y;
}

TEST(TransformerLayer, FastModeFeedForwardHalfIsWiredAsTheExactMode) {
  if (!demucs::bf16_products_available()) GTEST_SKIP() << "this CPU has no AVX-512 BF16";
  c10::InferenceMode guard;
  at::manual_seed(5);
  for (Case c : {Case{false, true, false, true}, Case{true, true, false, true},
                 Case{false, false, false, false}, Case{true, true, false, false},
                 Case{false, true, true, true}, Case{true, true, true, false},
                 Case{false, true, false, false, false}, Case{true, true, false, false, false}}) {
    std::string what = std::string(c.cross ? "cross" : "self") +
                       (c.layer_scale ? ", LayerScale" : "") +
                       (c.group_norm ? ", group norms" : "") + (c.norm_out ? ", norm_out" : "") +
                       (c.norm_first ? "" : ", norm after");
    demucs::Weights weights(random_layer("layer", c.cross));
    demucs::TransformerLayer layer(weights, "layer", config_of(c), c.cross);
    auto x = at::randn({1, 70, kDim}) * 2, other = at::randn({1, 45, kDim});
    auto exact = run_layer(layer, x, c.cross ? other : at::Tensor(), false);
    auto fast = run_layer(layer, x, c.cross ? other : at::Tensor(), true);
    // bfloat16 factors move outputs of about unit size by some 1e-2; a wrong norm or scale by
    // about their own size.
    float scale = exact.abs().max().item<float>();
    auto error = (fast - exact).abs();
    EXPECT_LT(error.max().item<float>(), 0.05 * scale) << what;
    EXPECT_LT(error.mean().item<float>(), 0.005 * scale) << what;
    EXPECT_GT(error.max().item<float>(), 0.0f) << what << ": fast mode did not run in bfloat16";
  }
}

// Random weights for a layer whose attention half adds exactly nothing (gamma_1 = 0).
std::map<std::string, at::Tensor> feed_forward_only_layer(bool cross) {
  auto w = random_layer("layer", cross);
  w["layer.gamma_1.scale"] = at::zeros({kDim});
  return w;
}

// With gamma_1 = 0 the attention half adds exactly nothing, so a norm-first layer without
// norm_out is x + gamma_2 * feed_forward(norm(x)): in fast mode the one pass's bits, with the
// layer's own norm (norm2 for self-attention, norm3 for cross-attention). Layer by layer (ATen's
// layer norm, then the block, then addcmul) the bits differ, so this shows the pass ran.
TEST(TransformerLayer, FastModeRunsTheNormFirstFeedForwardHalfInOnePass) {
  if (!demucs::bf16_products_available()) GTEST_SKIP() << "this CPU has no AVX-512 BF16";
  c10::InferenceMode guard;
  at::manual_seed(6);
  for (bool cross : {false, true}) {
    auto w = feed_forward_only_layer(cross);
    demucs::Weights weights(w);
    demucs::TransformerLayer layer(weights, "layer", config_of({cross, true, false, false}), cross);
    auto x = at::randn({1, 70, kDim}) * 2, other = at::randn({1, 45, kDim});
    auto fast = run_layer(layer, x, cross ? other : at::Tensor(), true);
    std::string norm = cross ? "layer.norm3" : "layer.norm2";
    demucs::FeedForwardWeights ff{w["layer.linear1.weight"], w["layer.linear1.bias"],
                                  w["layer.linear2.weight"], w["layer.linear2.bias"]};
    ff.int8 = demucs::int8_products_preferred();
    demucs::NormAndResidual around{w[norm + ".weight"], w[norm + ".bias"], 1e-5,
                                   w["layer.gamma_2.scale"]};
    auto one_pass = demucs::feed_forward_bf16_cpu(x, ff, around);
    ASSERT_TRUE(one_pass);
    EXPECT_TRUE(at::equal(fast, *one_pass)) << (cross ? "cross" : "self");
  }
}

// The exact mode's feed-forward layers (linear_f32_cpu with the activation on each block, where
// the CPU has AVX-512F): with gamma_1 = 0 a norm-first layer without norm_out is x + gamma_2 *
// linear2(activation(linear1(norm(x)))), here against that sum in double precision, for GELU
// and for ReLU layers (a swapped activation or a missed bias lands far off).
TEST(TransformerLayer, ExactModeFeedForwardHalfIsLinearActivationLinear) {
  c10::InferenceMode guard;
  at::manual_seed(7);
  for (bool gelu : {true, false}) {
    auto w = feed_forward_only_layer(false);
    demucs::Weights weights(w);
    auto config = config_of({false, true, false, false});
    config.gelu = gelu;
    demucs::TransformerLayer layer(weights, "layer", config, false);
    auto x = at::randn({1, 70, kDim}) * 2;
    auto y = run_layer(layer, x, at::Tensor(), false);
    auto d = [&](const std::string& name) { return w["layer." + name].to(at::kDouble); };
    auto xd = x.to(at::kDouble);
    auto normed = at::layer_norm(xd, {kDim}, d("norm2.weight"), d("norm2.bias"), 1e-5);
    auto hidden = at::linear(normed, d("linear1.weight"), d("linear1.bias"));
    hidden = gelu ? at::gelu(hidden) : at::relu(hidden);
    auto expected =
        xd + d("gamma_2.scale") * at::linear(hidden, d("linear2.weight"), d("linear2.bias"));
    double error = (y.to(at::kDouble) - expected).abs().max().item<double>();
    EXPECT_LT(error, 1e-4 * expected.abs().max().item<double>()) << (gelu ? "GELU" : "ReLU");
  }
}

// Fast mode with int8 products (asked for by MSAAS_FAST_INT8=1): the attention half is x +
// gamma_1 * attention(norm1(x)) (cross: norm2(other) for the keys and values) with the
// projections' bits linear_int8_cpu's (the three as one product for self-attention, each row of
// the weight on its own scale) and the core attention_cpu's; the feed-forward half then takes
// the one pass with int8 factors (norm2, or norm3 after cross-attention, and gamma_2).
TEST(TransformerLayer, FastModeTakesInt8ProjectionsAndFeedForwardWhereAsked) {
  if (!demucs::bf16_products_available() || !demucs::int8_products_available())
    GTEST_SKIP() << "this CPU has no AVX-512 BF16 and VNNI";
  EnvironmentVariable int8("MSAAS_FAST_INT8", "1");
  c10::InferenceMode guard;
  at::manual_seed(7);
  for (bool cross : {false, true}) {
    auto w = random_layer("layer", cross);
    demucs::Weights weights(w);
    demucs::TransformerLayer layer(weights, "layer", config_of({cross, true, false, false}), cross);
    auto x = at::randn({1, 70, kDim}) * 2, other = at::randn({1, 45, kDim});
    auto fast = run_layer(layer, x, cross ? other : at::Tensor(), true);
    std::string attn = cross ? "layer.cross_attn" : "layer.self_attn";
    auto norm = [&](const std::string& name, const at::Tensor& t) {
      return at::layer_norm(t, {kDim}, w[name + ".weight"], w[name + ".bias"], 1e-5);
    };
    auto q_in = norm("layer.norm1", x), kv_in = cross ? norm("layer.norm2", other) : q_in;
    auto weight = w[attn + ".in_proj_weight"], bias = w[attn + ".in_proj_bias"];
    auto project = [&](const at::Tensor& in, int64_t part) {
      return *demucs::linear_int8_cpu(in, weight.slice(0, part * kDim, (part + 1) * kDim),
                                      bias.slice(0, part * kDim, (part + 1) * kDim));
    };
    auto query = project(q_in, 0) / std::sqrt(double(kDim / kHeads));
    auto core = *demucs::attention_cpu(query, project(kv_in, 1), project(kv_in, 2), kHeads, true);
    auto out =
        *demucs::linear_int8_cpu(core, w[attn + ".out_proj.weight"], w[attn + ".out_proj.bias"]);
    auto attention_half = at::addcmul(x, w["layer.gamma_1.scale"], out);
    demucs::FeedForwardWeights ff{w["layer.linear1.weight"], w["layer.linear1.bias"],
                                  w["layer.linear2.weight"], w["layer.linear2.bias"]};
    ff.int8 = true;
    std::string ff_norm = cross ? "layer.norm3" : "layer.norm2";
    demucs::NormAndResidual around{w[ff_norm + ".weight"], w[ff_norm + ".bias"], 1e-5,
                                   w["layer.gamma_2.scale"]};
    auto expected = *demucs::feed_forward_bf16_cpu(attention_half, ff, around);
    EXPECT_TRUE(at::equal(fast, expected)) << (cross ? "cross" : "self") << ": largest difference "
                                           << (fast - expected).abs().max().item<float>();
  }
}

}  // namespace
}  // namespace msaas::test

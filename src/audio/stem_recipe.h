// audio/stem_recipe.h: how each output stem is made from a model's separated sources, for the
// CLI (the official tool's --two-stems and --other-method) and the worker (4, 6 or two stems)
// alike: a source as it is, the sum of all others (no_<stem>), or the mix minus one
// (minus_<stem>).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace msaas::audio {

struct StemRecipe {
  std::string name;
  std::vector<size_t> sources;  // the sources summed
  bool from_mix = false;        // the mix minus the sum of `sources` instead
};

// What "other" holds when an output set leaves sources out (four stems from a six-stem model).
enum class OtherStem {
  as_separated,          // the model's "other" alone
  with_sources_unasked,  // "other" plus every source no output names (guitar, piano)
};

// Recipes for output names: "<source>", "no_<source>", "minus_<source>"; throws
// std::invalid_argument for a name whose source the model lacks.
std::vector<StemRecipe> stem_recipes(const std::vector<std::string>& names,
                                     const std::vector<std::string>& sources,
                                     OtherStem other = OtherStem::as_separated);

// Makes one stretch of every output: `sources` holds each source's `size` samples one after
// another, `mix` the mixture's (read only for recipes from the mix); `emit(i, samples)` gets
// output i.
void mix_stems(const std::vector<StemRecipe>& recipes, const float* sources, const float* mix,
               int64_t size, const std::function<void(size_t, const float*)>& emit);

}  // namespace msaas::audio

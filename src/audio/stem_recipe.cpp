// audio/stem_recipe.cpp: see stem_recipe.h.
#include "audio/stem_recipe.h"

#include <algorithm>
#include <stdexcept>

namespace msaas::audio {

namespace {

size_t source_index(const std::vector<std::string>& sources, const std::string& name) {
  size_t i = std::find(sources.begin(), sources.end(), name) - sources.begin();
  if (i == sources.size()) throw std::invalid_argument("the model has no \"" + name + "\" stem");
  return i;
}

bool starts_with(const std::string& text, const std::string& prefix) {
  return text.rfind(prefix, 0) == 0;
}

// The sources no output names, for an "other" that takes them in.
std::vector<size_t> unasked(const std::vector<std::string>& names,
                            const std::vector<std::string>& sources) {
  std::vector<size_t> left;
  for (size_t s = 0; s < sources.size(); ++s)
    if (std::find(names.begin(), names.end(), sources[s]) == names.end()) left.push_back(s);
  return left;
}

}  // namespace

std::vector<StemRecipe> stem_recipes(const std::vector<std::string>& names,
                                     const std::vector<std::string>& sources, OtherStem other) {
  std::vector<StemRecipe> recipes;
  for (const auto& name : names) {
    StemRecipe recipe{name, {}, false};
    if (starts_with(name, "no_")) {
      size_t skip = source_index(sources, name.substr(3));
      for (size_t s = 0; s < sources.size(); ++s)
        if (s != skip) recipe.sources.push_back(s);
    } else if (starts_with(name, "minus_")) {
      recipe.sources.push_back(source_index(sources, name.substr(6)));
      recipe.from_mix = true;
    } else {
      recipe.sources.push_back(source_index(sources, name));
      if (name == "other" && other == OtherStem::with_sources_unasked)
        for (size_t s : unasked(names, sources)) recipe.sources.push_back(s);
    }
    recipes.push_back(recipe);
  }
  return recipes;
}

void mix_stems(const std::vector<StemRecipe>& recipes, const float* sources, const float* mix,
               int64_t size, const std::function<void(size_t, const float*)>& emit) {
  std::vector<float> sum;
  for (size_t i = 0; i < recipes.size(); ++i) {
    const auto& recipe = recipes[i];
    const float* first = sources + recipe.sources[0] * size;
    if (recipe.sources.size() == 1 && !recipe.from_mix) {
      emit(i, first);  // a source as it is: no copy
      continue;
    }
    sum.assign(first, first + size);
    for (size_t k = 1; k < recipe.sources.size(); ++k)
      for (int64_t j = 0; j < size; ++j) sum[j] += sources[recipe.sources[k] * size + j];
    if (recipe.from_mix)
      for (int64_t j = 0; j < size; ++j) sum[j] = mix[j] - sum[j];
    emit(i, sum.data());
  }
}

}  // namespace msaas::audio

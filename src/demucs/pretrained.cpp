// demucs/pretrained.cpp: the official named models (demucs/pretrained.py, demucs/remote/*.yaml)
// and where MSaaS keeps downloaded models.
#include <cstdlib>
#include <filesystem>

#include "demucs/states.h"
#include "msaas/engine.h"
#include "msaas/models.h"

namespace msaas {

std::string default_models_folder() {
  if (const char* env = std::getenv("MSAAS_MODELS"); env && *env) return env;
  const char* home = std::getenv("HOME");
  std::filesystem::path base = home && *home ? home : ".";
  return (base / ".cache" / "msaas" / "models").string();
}

const std::vector<NamedModel>& official_models() {
  static const std::vector<NamedModel> models = {
      {"htdemucs",
       {"955717e8-8726e21a.th"},
       "models: ['955717e8']\n",
       "Hybrid Transformer Demucs v4 (default): drums, bass, other, vocals"},
      {"htdemucs_ft",
       {"f7e0c4bc-ba3fe64a.th", "d12395a8-e57c48e6.th", "92cfc3b6-ef3bcb9c.th",
        "04573f0d-f3cf25b2.th"},
       "models: ['f7e0c4bc', 'd12395a8', '92cfc3b6', '04573f0d']\n"
       "weights: [[1., 0., 0., 0.], [0., 1., 0., 0.], [0., 0., 1., 0.], [0., 0., 0., 1.]]\n",
       "fine-tuned htdemucs, one model per source (4x slower, a little better)"},
      {"htdemucs_6s",
       {"5c90dfd2-34c22ccb.th"},
       "models: ['5c90dfd2']\n",
       "six sources: drums, bass, other, vocals, guitar, piano"},
      {"hdemucs_mmi",
       {"75fc33f5-1941ce65.th"},
       "models: ['75fc33f5']\nsegment: 44\n",
       "Hybrid Demucs v3 retrained on more data"},
  };
  return models;
}

const NamedModel* find_official_model(const std::string& name) {
  for (const auto& m : official_models())
    if (m.name == name) return &m;
  return nullptr;
}

bool matches_checksum(const std::string& path, const std::string& file_name) {
  auto expected = demucs::named_checksum(file_name);
  return !expected || demucs::sha256_file(path).rfind(*expected, 0) == 0;
}

}  // namespace msaas

// msaas/models.h: the models folder and the official Demucs models (demucs/pretrained.py and
// repo.py): what a folder holds, where it is by default, the named models and their files.
// Loading one is Separator::from_repo (msaas/engine.h); fetching one, msaas/download.h.
#pragma once

#include <string>
#include <vector>

namespace msaas {

// What a models folder holds, as the official --list-models shows it (sorted names).
struct InstalledModels {
  std::vector<std::string> bags;     // <name>.yaml
  std::vector<std::string> singles;  // <sig>[-<sha8>].th
};
InstalledModels list_installed_models(const std::string& repo);

// The models folder: $MSAAS_MODELS, else ~/.cache/msaas/models.
std::string default_models_folder();

// The official named models (demucs/remote): their files and their bag description.
struct NamedModel {
  std::string name;
  std::vector<std::string> files;  // <sig>-<sha8>.th, under the official download root
  std::string yaml;                // content of <name>.yaml
  std::string summary;
};
const std::vector<NamedModel>& official_models();
const NamedModel* find_official_model(const std::string& name);

// For a checkpoint file named `<sig>-<sha8>.th` (8 hex characters): true when the SHA-256 of `path`
// starts with <sha8>, as repo.check_checksum requires. Files named otherwise have no checksum:
// true.
bool matches_checksum(const std::string& path, const std::string& file_name);

}  // namespace msaas

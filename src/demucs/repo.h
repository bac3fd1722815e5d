// demucs/repo.h: finding models in a folder the way demucs/repo.py does: single checkpoints
// `<sig>[-<sha8>].th` (LocalRepo) and bags `<name>.yaml` (BagOnlyRepo), checksums verified.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "demucs/apply.h"
#include "demucs/model.h"

namespace msaas::demucs {

// Builds HTDemucs or HDemucs from one checkpoint file (no checksum check), its weights on
// `device`.
std::unique_ptr<Model> load_model_file(const std::string& path, at::Device device = at::kCPU);

// What a folder offers: signature or bag name -> file.
struct RepoListing {
  std::map<std::string, std::string> singles;  // sig -> .th path
  std::map<std::string, std::string> bags;     // name -> .yaml path
};
RepoListing scan_repo(const std::string& folder);

// True when `name` is an official bag (htdemucs, ...) whose checkpoints are all in `listing`,
// so it can be used without its .yaml.
bool official_bag_present(const RepoListing& listing, const std::string& name);

// `-n NAME --repo FOLDER`: a single model by signature first, else a bag by name.
BagOfModels load_from_repo(const std::string& name, const std::string& folder,
                           at::Device device = at::kCPU);

}  // namespace msaas::demucs

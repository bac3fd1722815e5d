// demucs/repo.cpp: see repo.h.
#include "demucs/repo.h"

#include <yaml-cpp/yaml.h>

#include <exception>
#include <filesystem>
#include <future>
#include <optional>

#include "demucs/hdemucs.h"
#include "demucs/htdemucs.h"
#include "demucs/states.h"
#include "msaas/engine.h"
#include "msaas/models.h"

namespace msaas::demucs {
namespace fs = std::filesystem;

namespace {

// HTDemucs and HDemucs share their first constructor parameters, in this order; positional
// arguments (klass(*args, **kwargs)) are turned into keywords with these names.
void merge_positional(Package& package, const std::string& path) {
  static const char* names[] = {
      "sources", "audio_channels", "channels",  "channels_time",   "growth",
      "nfft",    "wiener_iters",   "end_iters", "wiener_residual", "cac"};
  if (package.args.size() > std::size(names))
    throw ModelError(path + ": too many positional model arguments");
  for (size_t i = 0; i < package.args.size(); ++i) {
    if (package.kwargs->get(names[i]))
      throw ModelError(path + ": argument '" + names[i] + "' given twice");
    auto key = std::make_shared<pickle::Value>();
    key->kind = pickle::Value::Kind::string;
    key->text = names[i];
    package.kwargs->entries.emplace_back(key, package.args[i]);
  }
}

// The model a checkpoint's content describes, on `device`.
std::unique_ptr<Model> model_from_package(Package package, const std::string& path,
                                          at::Device device) {
  merge_positional(package, path);
  for (auto& [name, tensor] : package.state) tensor = tensor.to(device);
  Kwargs kwargs(package.kwargs);
  Weights weights(std::move(package.state));
  std::unique_ptr<Model> model;
  if (package.klass == "demucs.htdemucs.HTDemucs")
    model = std::make_unique<HTDemucs>(kwargs, weights);
  else if (package.klass == "demucs.hdemucs.HDemucs")
    model = std::make_unique<HDemucs>(kwargs, weights);
  else
    throw ModelError(path + ": model class " + package.klass +
                     " is not supported (HTDemucs and HDemucs are)");
  weights.check_all_used();
  model->device = device;
  return model;
}

}  // namespace

std::unique_ptr<Model> load_model_file(const std::string& path, at::Device device) {
  return model_from_package(load_package(path), path, device);
}

bool official_bag_present(const RepoListing& listing, const std::string& name) {
  const NamedModel* official = find_official_model(name);
  if (!official) return false;
  for (const auto& file : official->files)
    if (!listing.singles.count(file.substr(0, file.find('-')))) return false;
  return true;
}

RepoListing scan_repo(const std::string& folder) {
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) throw ModelError(folder + " must exist and be a folder");
  RepoListing listing;
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    const fs::path& p = entry.path();
    std::string stem = p.stem().string();
    if (p.extension() == ".th") {
      std::string sig = stem.substr(0, stem.find('-'));
      if (listing.singles.count(sig))
        throw ModelError("duplicate pre-trained models for signature " + sig + " in " + folder +
                         "; delete all but one");
      listing.singles[sig] = p.string();
    } else if (p.extension() == ".yaml") {
      listing.bags[stem] = p.string();
    }
  }
  return listing;
}

namespace {

std::unique_ptr<Model> load_single(const RepoListing& listing, const std::string& sig,
                                   const std::string& folder, at::Device device) {
  auto it = listing.singles.find(sig);
  if (it == listing.singles.end())
    throw ModelError("could not find pre-trained model with signature " + sig + " in " + folder);
  // The checksum (a SHA-256 of the whole file: 0.03-0.05 s of htdemucs' 0.1 s load here) is
  // read on a thread of its own while the checkpoint's archive is read (a reader that throws
  // on bad bytes, as it must for files whose names carry no checksum); the model is built only
  // from a file that passed, and a damaged download says so before any error of the reader's.
  const std::string& path = it->second;
  auto checked =
      std::async(std::launch::async | std::launch::deferred, [path] { check_checksum(path); });
  std::optional<Package> package;
  std::exception_ptr read_error;
  try {
    package = load_package(path);
  } catch (...) {
    read_error = std::current_exception();
  }
  checked.get();
  if (read_error) std::rethrow_exception(read_error);
  return model_from_package(std::move(*package), path, device);
}

// `source` names the bag in messages: its .yaml file, or the built-in official description.
BagOfModels load_bag(const RepoListing& listing, const YAML::Node& bag, const std::string& source,
                     const std::string& folder, at::Device device) {
  const std::string& yaml_path = source;
  if (!bag["models"] || !bag["models"].IsSequence())
    throw ModelError(yaml_path + " lists no 'models'");
  try {
    std::vector<std::unique_ptr<Model>> models;
    for (const auto& sig : bag["models"])
      models.push_back(load_single(listing, sig.as<std::string>(), folder, device));
    std::optional<std::vector<std::vector<double>>> weights;
    if (bag["weights"] && !bag["weights"].IsNull())
      weights = bag["weights"].as<std::vector<std::vector<double>>>();
    std::optional<Rational> segment;
    if (bag["segment"] && !bag["segment"].IsNull()) {
      double s = bag["segment"].as<double>();
      segment = s == std::floor(s) ? Rational{static_cast<int64_t>(s), 1}
                                   : Rational{std::llround(s * 1000000), 1000000};
    }
    return BagOfModels(std::move(models), weights, segment);
  } catch (const YAML::Exception& e) {
    throw ModelError(yaml_path + ": " + e.what());
  }
}

}  // namespace

BagOfModels load_from_repo(const std::string& name, const std::string& folder, at::Device device) {
  RepoListing listing = scan_repo(folder);
  if (listing.singles.count(name)) {
    std::vector<std::unique_ptr<Model>> models;
    models.push_back(load_single(listing, name, folder, device));
    return BagOfModels(std::move(models), std::nullopt, std::nullopt);
  }
  auto bag = listing.bags.find(name);
  if (bag != listing.bags.end()) {
    YAML::Node node;
    try {
      node = YAML::LoadFile(bag->second);
    } catch (const YAML::Exception& e) {
      throw ModelError(bag->second + ": " + e.what());
    }
    return load_bag(listing, node, bag->second, folder, device);
  }
  if (official_bag_present(listing, name))  // e.g. htdemucs from 955717e8-*.th alone
    return load_bag(listing, YAML::Load(find_official_model(name)->yaml), name, folder, device);
  if (find_official_model(name))
    throw ModelError("model " + name + " is not installed in " + folder +
                     "; fetch it with: msaas models pull " + name);
  throw ModelError(name + " is neither a single pre-trained model nor a bag of models in " +
                   folder);
}

}  // namespace msaas::demucs

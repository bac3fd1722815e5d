// cli/models.cpp: see models.h.
#include "cli/models.h"

#include <iostream>

#include "cli/progress.h"
#include "common/text.h"
#include "msaas/download.h"
#include "msaas/engine.h"
#include "msaas/models.h"

namespace msaas::cli {

int print_model_list(const std::string& repo) {
  try {
    auto installed = list_installed_models(repo);
    std::cout << "Models in " << repo << "\n";
    std::cout << "Bag of models:\n";
    for (const auto& b : installed.bags) std::cout << "    " << b << "\n";
    std::cout << "Single models:\n";
    for (const auto& s : installed.singles) std::cout << "    " << s << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "msaas: error: " << e.what() << "\n";
    return 1;
  }
}

int pull_named_model(const ModelsOptions& o) {
  const NamedModel* model = find_official_model(o.name);
  if (!model) {
    std::vector<std::string> names;
    for (const auto& m : official_models()) names.push_back(m.name);
    std::cerr << "msaas: error: unknown model " << o.name << " (known: " << common::joined(names)
              << ")\n";
    return 1;
  }
  std::string folder = o.repo.empty() ? default_models_folder() : o.repo;
  std::cerr << "Model weights are Meta's, published for research use only; by downloading them "
               "you accept those terms.\n";
  try {
    std::string current;
    std::unique_ptr<ProgressReport> report;
    pull_model(*model, folder, o.url.empty() ? default_models_url() : o.url,
               [&](const DownloadProgress& p) {
                 if (p.file != current || !report) {
                   if (report) report->done();
                   current = p.file;
                   report = std::make_unique<ProgressReport>(p.file, 0.0);
                 }
                 if (p.total > 0) report->update(double(p.received) / p.total);
               });
    if (report) report->done();
  } catch (const std::exception& e) {
    std::cerr << "\nmsaas: error: " << e.what() << "\n";
    return 1;
  }
  std::cout << o.name << " is ready in " << folder << " (use -n " << o.name << ")\n";
  return 0;
}

CLI::App* add_models_command(CLI::App& app, ModelsOptions& o) {
  auto* models = app.add_subcommand("models", "Manage the models folder");
  models->require_subcommand(1);
  auto* list = models->add_subcommand("list", "List installed models");
  list->add_option("--repo", o.repo,
                   "Models folder (default: $MSAAS_MODELS or "
                   "~/.cache/msaas/models)");
  list->callback([&o] {
    throw CLI::RuntimeError(print_model_list(o.repo.empty() ? default_models_folder() : o.repo));
  });
  auto* pull = models->add_subcommand("pull", "Download an official model into the models folder");
  pull->add_option("name", o.name, "htdemucs, htdemucs_ft, htdemucs_6s or hdemucs_mmi")->required();
  pull->add_option("--repo", o.repo,
                   "Models folder (default: $MSAAS_MODELS or "
                   "~/.cache/msaas/models)");
  pull->add_option("--url", o.url,
                   "Download root (default: $MSAAS_MODELS_URL or the official one)");
  pull->callback([&o] { throw CLI::RuntimeError(pull_named_model(o)); });
  return models;
}

}  // namespace msaas::cli

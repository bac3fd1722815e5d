// cli/models.cpp: see models.h.
#include "cli/models.h"

#include <iostream>

#include "msaas/engine.h"

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
  return models;
}

}  // namespace msaas::cli

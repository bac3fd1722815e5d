// cli/models.h: `msaas models list` (and the official `--list-models`).
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace msaas::cli {

struct ModelsOptions {
  std::string repo;  // default: the models folder
};

CLI::App* add_models_command(CLI::App& app, ModelsOptions& options);

// Prints the bags and single models in `repo`; returns the exit code.
int print_model_list(const std::string& repo);

}  // namespace msaas::cli

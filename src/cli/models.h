// cli/models.h: `msaas models list` (and the official `--list-models`), `msaas models pull`.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace msaas::cli {

struct ModelsOptions {
  std::string repo;  // default: the models folder
  std::string name;  // models pull NAME
  std::string url;   // default: the official download root
};

CLI::App* add_models_command(CLI::App& app, ModelsOptions& options);

// Downloads an official model; returns the exit code.
int pull_named_model(const ModelsOptions& options);

// Prints the bags and single models in `repo`; returns the exit code.
int print_model_list(const std::string& repo);

}  // namespace msaas::cli

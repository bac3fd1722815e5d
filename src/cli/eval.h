// cli/eval.h: `msaas eval`: separation quality (SDR) on an evaluation set with true stems
// (tools/eval/make_eval_set.py), for our engine or for stems made elsewhere.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

namespace msaas::cli {

struct EvalOptions {
  std::string set;  // folder of <mixture>/{mixture,<stem>...}.wav
  std::string name = "htdemucs";
  std::string repo;
  int shifts = 1;
  double overlap = 0.25;
  std::optional<double> segment;
  uint64_t seed = 0;
  bool fast = false;
  int jobs = 0;
  std::string estimates;  // evaluate <estimates>/<mixture>/<stem>.wav instead of separating
  std::string json;       // write the results here
};

CLI::App* add_eval_command(CLI::App& app, EvalOptions& options);
int run_eval(const EvalOptions& options);

}  // namespace msaas::cli

// bench/engine_bench.h: `msaas-bench` without --end-to-end: the engine alone (model loaded, song
// decoded) against the official apply_model, each in a fresh process, for several song lengths.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace msaas::bench {

struct EngineBenchOptions {
  std::string repo, name;
  int threads = 2;
  bool exact = true, fast = true;        // the engine's modes to run
  std::vector<double> official_lengths;  // lengths also run with the official code
  std::string demucs_src;                // PYTHONPATH of the official sources ("": ours only)
  std::vector<std::string> tuned_env;    // the official code tuned: NAME=value ...
};

// Prints one row per length (ours in each mode; the official code as installed and tuned) and
// the ratios; returns the figures as JSON.
nlohmann::json run_engine_bench(const EngineBenchOptions& options,
                                const std::vector<double>& lengths);

}  // namespace msaas::bench

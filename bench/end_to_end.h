// bench/end_to_end.h: `msaas-bench --end-to-end`: the command lines against each other, as a
// user runs them: `msaas separate` (WAV and MP3 out, model load and process start included)
// against the official `python3 -m demucs.separate` as Debian installs it and tuned, WAV against
// WAV and MP3 against MP3.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace msaas::bench {

struct EndToEndOptions {
  std::filesystem::path msaas;  // the msaas program
  std::string repo, name;
  int threads = 2;
  std::vector<double> lengths;             // seconds
  int rounds = 2;                          // interleaved: every command once per round
  std::string demucs_src;                  // PYTHONPATH of the official sources ("": ours only)
  std::filesystem::path lameenc;           // bench/official: lameenc for the official MP3 runs
  std::vector<std::string> official_args;  // e.g. {"-j", "2"}
  std::vector<std::string> tuned_env;      // the official code tuned: NAME=value ...
  std::vector<std::string> tuned_args;
};

// Prints a table per song length and the command line's fixed cost on a 10 s song; returns
// the figures as JSON.
nlohmann::json run_end_to_end(const EndToEndOptions& options);

}  // namespace msaas::bench

// cli/separate.h: `msaas separate`, the official `demucs.separate` command line in C++.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

namespace msaas::cli {

struct SeparateOptions {
  std::vector<std::string> tracks;
  std::string name = "htdemucs";
  std::string repo;  // default: the models folder
  std::string out = "separated";
  std::string filename = "{track}/{stem}.{ext}";
  int shifts = 1;
  double overlap = 0.25;
  bool no_split = false;
  std::optional<double> segment;
  std::string two_stems;
  std::string other_method = "add";
  bool mp3 = false, flac = false, int24 = false, float32 = false;
  int mp3_bitrate = 320;
  int mp3_preset = 2;
  std::string clip_mode = "rescale";
  int jobs = 0;
  std::optional<uint64_t> seed;
  bool fast = false;
  std::string device = "auto";
  bool list_models = false;
  bool timings = false;
};

// Adds the `separate` subcommand; `run` is set to call run_separate when it is chosen.
CLI::App* add_separate_command(CLI::App& app, SeparateOptions& options);

// Returns the process exit code: 0 when every track was separated, 1 otherwise.
int run_separate(const SeparateOptions& options);

}  // namespace msaas::cli

// bench/bench_support.h: what the benchmarks share: the synthetic song and running a program
// in a fresh process with its wall time and peak memory.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace msaas::bench {

// Music-like test audio as a float WAV: chords, a bass line, clicks and a little noise,
// deterministic.
void write_song(const std::filesystem::path& path, double seconds);

struct ChildResult {
  int exit_code = -1;
  std::string out, err;
  long peak_kb = 0;  // its peak resident memory (wait4)
  double wall = 0;   // seconds from fork to exit
};

// Runs argv (argv[0] a path) in a fresh process with `env` ("NAME=value") added to this one's,
// capturing stdout and stderr.
ChildResult run_child(const std::vector<std::string>& argv,
                      const std::vector<std::string>& env = {});

}  // namespace msaas::bench

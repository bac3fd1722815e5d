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

// A folder that goes with everything in it whatever happens (songs of minutes are hundreds of
// MB).
struct ScratchFolder {
  std::filesystem::path path;
  explicit ScratchFolder(std::filesystem::path p);
  ~ScratchFolder();
};

// A file of the source tree: next to the build folder, else where this program was built from.
std::filesystem::path source_file(const std::string& relative);

// Removes OPENBLAS_CORETYPE from this process's environment, and so from every run's, and
// returns what it was ("" if unset). A fresh Debian has no such variable: OpenBLAS then picks
// its kernels for the CPU (AVX-512 ones where there is AVX-512). Some machines set it to an
// older core for every program, which slows ours and the official code alike.
std::string drop_blas_coretype();

// Runs argv (argv[0] a path) in a fresh process with `env` ("NAME=value") added to this one's,
// capturing stdout and stderr.
ChildResult run_child(const std::vector<std::string>& argv,
                      const std::vector<std::string>& env = {});

}  // namespace msaas::bench

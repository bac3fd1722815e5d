// bench/bench.cpp: `msaas-bench`, speed and memory on the real checkpoint: its options, and the
// separation each engine run does in a process of its own (--one).
//
// Two benchmarks: the engine alone (engine_bench.h: exact and fast modes against the official
// apply_model as installed and tuned) and the command lines (end_to_end.h, --end-to-end). Both
// write the same synthetic songs, run every separation in a fresh process (so each peak memory
// figure is that run's alone) with the defaults (shifts 1, overlap 0.25), and run the official
// code on the same files when $DEMUCS_SRC (a PYTHONPATH holding the official sources) is set.
// Figures and how to read them: docs/benchmarks.md.

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "audio/mix_spool.h"
#include "bench_support.h"
#include "end_to_end.h"
#include "engine_bench.h"
#include "msaas/engine.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Resident memory of this process now, in MB (VmRSS).
double resident_mb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return 0;
}

// The separation itself, in this (child) process: prints {"wall", "segments", "loaded_mb",
// "compute"}; loaded_mb is the resident memory once the model is loaded, before the song.
int run_one(const std::string& file, const std::string& repo, const std::string& name, int threads,
            bool fast) {
  auto model = msaas::Separator::from_repo(name, repo);
  double loaded_mb = resident_mb();
  msaas::audio::MixSpool mix(file, model->sample_rate(), model->audio_channels(),
                             fs::temp_directory_path().string());
  msaas::SeparationOptions o;
  o.threads = threads;
  o.seed = 1;
  o.fast = fast;
  int64_t segments = 0;
  double checksum = 0;
  auto start = std::chrono::steady_clock::now();
  model->separate_stream([&](int64_t offset, int64_t n, float* out) { mix.read(offset, n, out); },
                         mix.frames(), o,
                         [&](const float* stems, int64_t n) { checksum += stems[n - 1]; },
                         [&](const msaas::Progress& p) {
                           segments = p.total;
                           return true;
                         });
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << json{{"wall", wall},
                    {"segments", segments},
                    {"checksum", checksum},
                    {"loaded_mb", loaded_mb},
                    {"compute", msaas::compute_summary()}}
                   .dump()
            << "\n";
  return 0;
}

std::vector<double> parse_lengths(const std::string& text) {
  std::vector<double> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) out.push_back(std::stod(item));
  return out;
}

// Space-separated words.
std::vector<std::string> words(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  std::string word;
  while (ss >> word) out.push_back(word);
  return out;
}

// The official code tuned the way the engine is (docs/benchmarks.md, "The official code,
// tuned"): the OpenMP OpenBLAS, libtorch's AVX-512 kernels, and malloc's large blocks on huge
// pages (the engine's tensor cache maps its own so): where page faults are dear, its tensors'
// first touches cost the official code more than its arithmetic (round 18).
constexpr const char* kTunedEnv =
    "LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp ATEN_CPU_CAPABILITY=avx512 "
    "GLIBC_TUNABLES=glibc.malloc.hugetlb=1";
constexpr const char* kTunedArgs = "-j 2";

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"msaas-bench: engine speed and memory on the real checkpoint"};
  std::string repo = "../shared/models", name = "955717e8", lengths = "30,120,600";
  std::string official_lengths = "30,120", json_out, one;
  int threads = 2;
  app.add_option("--repo", repo, "Models folder")->capture_default_str();
  app.add_option("-n,--name", name, "Model")->capture_default_str();
  app.add_option("--lengths", lengths, "Song lengths in seconds")->capture_default_str();
  app.add_option("--official-lengths", official_lengths,
                 "Lengths also run with the official code (needs $DEMUCS_SRC)")
      ->capture_default_str();
  app.add_option("--threads", threads, "Compute threads")->capture_default_str();
  std::string modes = "exact,fast";
  auto* modes_option = app.add_option("--modes", modes, "Engine modes to run")
                           ->check(CLI::IsMember({"exact", "fast", "exact,fast", "fast,exact"}))
                           ->capture_default_str();
  bool fast = false;
  app.add_flag("--fast", fast, "The fast mode only (same as --modes fast)")->excludes(modes_option);
  app.add_option("--json", json_out, "Also write the results here");
  app.add_option("--one", one, "(internal) separate this file and print timings");
  bool end_to_end = false;
  msaas::bench::EndToEndOptions e2e;
  std::string e2e_lengths = "30,60", official_args = "-j 2", tuned_env = kTunedEnv,
              tuned_args = kTunedArgs;
  app.add_flag("--end-to-end", end_to_end,
               "Time the command lines instead: msaas separate (WAV, MP3, fast) against "
               "python3 -m demucs.separate as installed and tuned (with $DEMUCS_SRC)");
  app.add_option("--e2e-lengths", e2e_lengths,
                 "Song lengths for --end-to-end (empty: only the fixed cost on 10 s)")
      ->capture_default_str();
  app.add_option("--rounds", e2e.rounds, "Interleaved rounds for --end-to-end")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--official-args", official_args, "Options of the official command line")
      ->capture_default_str();
  app.add_option("--tuned-env", tuned_env,
                 "Environment of the tuned official runs (engine and end to end)")
      ->capture_default_str();
  app.add_option("--tuned-args", tuned_args, "Options of the tuned official run")
      ->capture_default_str();
  bool keep_blas_coretype = false;
  app.add_flag("--keep-blas-coretype", keep_blas_coretype,
               "Keep $OPENBLAS_CORETYPE in every run's environment (by default it is removed, "
               "as a fresh Debian has none: it picks OpenBLAS's kernels for ours and the official "
               "code alike)");
  CLI11_PARSE(app, argc, argv);
  try {
    if (!one.empty()) return run_one(one, repo, name, threads, fast);
    std::string removed = keep_blas_coretype ? "" : msaas::bench::drop_blas_coretype();
    if (!removed.empty())
      std::printf(
          "OPENBLAS_CORETYPE=%s removed from every run's environment (OpenBLAS picks its "
          "kernels for this CPU, as on a fresh Debian; --keep-blas-coretype keeps it)\n",
          removed.c_str());
    const char* src = std::getenv("DEMUCS_SRC");
    json results;
    if (end_to_end) {
      e2e.msaas = fs::canonical("/proc/self/exe").parent_path() / "msaas";
      e2e.repo = fs::absolute(repo).string();
      e2e.name = name;
      e2e.threads = threads;
      e2e.lengths = parse_lengths(e2e_lengths);
      e2e.demucs_src = src ? src : "";
      e2e.lameenc = msaas::bench::source_file("bench/official");
      if (src && !fs::exists(e2e.lameenc / "lameenc.py"))
        throw std::runtime_error("no " + (e2e.lameenc / "lameenc.py").string() +
                                 ": the official MP3 runs need it");
      e2e.official_args = words(official_args);
      e2e.tuned_env = words(tuned_env);
      e2e.tuned_args = words(tuned_args);
      results = msaas::bench::run_end_to_end(e2e);
    } else {
      msaas::bench::EngineBenchOptions bench;
      bench.repo = repo;
      bench.name = name;
      bench.threads = threads;
      bench.exact = !fast && modes.find("exact") != std::string::npos;  // the words IsMember let in
      bench.fast = fast || modes.find("fast") != std::string::npos;
      bench.official_lengths = parse_lengths(official_lengths);
      bench.demucs_src = src ? src : "";
      bench.tuned_env = words(tuned_env);
      results = msaas::bench::run_engine_bench(bench, parse_lengths(lengths));
    }
    // Which kernels the figures were made with: see drop_blas_coretype.
    results["openblas_coretype_removed"] = removed;
    const char* kept = std::getenv("OPENBLAS_CORETYPE");  // what the runs saw
    results["openblas_coretype_in_runs"] = kept ? kept : "";
    if (!json_out.empty()) std::ofstream(json_out) << results.dump(2) << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "msaas-bench: error: " << e.what() << "\n";
    return 1;
  }
}

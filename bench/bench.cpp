// bench/bench.cpp: `msaas-bench`, the engine's speed and memory on the real checkpoint.
//
// For each song length it writes the same synthetic audio to a WAV file, separates it in a
// fresh process (so each peak memory figure is that run's alone) with the defaults (shifts 1,
// overlap 0.25), and prints wall time, real-time factor, peak resident memory and achieved
// GFLOP/s against the machine's peak. With $DEMUCS_SRC (a PYTHONPATH holding the official
// sources) it runs the official apply_model on the same file in the same run and prints the
// ratio. Figures and how to read them: docs/benchmarks.md.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "audio/mix_spool.h"
#include "bench_support.h"
#include "end_to_end.h"
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

// The machine's fp32 peak, measured rather than read off the CPU flags (Zen 4, for one, runs
// AVX-512 in two 256-bit halves: half what its flags suggest): each thread runs independent
// multiply-add chains on the widest vectors it has, for `seconds`.
#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif
double
fma_flops_per_second(double seconds) {
  typedef float v16 __attribute__((vector_size(64)));
  // Twelve named chains (not an array: the compiler keeps these in registers at -O2).
  v16 mul = {}, add = {}, a0 = {}, a1 = {}, a2 = {}, a3 = {}, a4 = {}, a5 = {}, a6 = {}, a7 = {},
      a8 = {}, a9 = {}, a10 = {}, a11 = {};
  mul += 0.999999f, add += 1e-7f;
  a0 += 1, a1 += 2, a2 += 3, a3 += 4, a4 += 5, a5 += 6, a6 += 7, a7 += 8, a8 += 9, a9 += 10;
  a10 += 11, a11 += 12;  // distinct, or the compiler merges identical chains
  auto start = std::chrono::steady_clock::now();
  double elapsed = 0, rounds = 0;
  while (elapsed < seconds) {
    for (int r = 0; r < 100000; ++r) {
      a0 = a0 * mul + add, a1 = a1 * mul + add, a2 = a2 * mul + add, a3 = a3 * mul + add;
      a4 = a4 * mul + add, a5 = a5 * mul + add, a6 = a6 * mul + add, a7 = a7 * mul + add;
      a8 = a8 * mul + add, a9 = a9 * mul + add, a10 = a10 * mul + add, a11 = a11 * mul + add;
    }
    rounds += 100000;
    elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  v16 sum = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11;
  if (sum[0] == 42.f) std::puts("");  // keeps the chains alive
  return rounds * 12 * 16 * 2 / elapsed;
}

double machine_peak_gflops(int threads) {
  std::vector<double> rates(threads);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&rates, t] { rates[t] = fma_flops_per_second(0.5); });
  for (auto& w : workers) w.join();
  double total = 0;
  for (double r : rates) total += r;
  return total / 1e9;
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
// tuned"): the OpenMP OpenBLAS, libtorch's AVX-512 kernels.
constexpr const char* kTunedEnv =
    "LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp ATEN_CPU_CAPABILITY=avx512";
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
  bool fast = false;
  app.add_flag("--fast", fast, "Fast mode (bfloat16) instead of the exact one");
  app.add_option("--json", json_out, "Also write the results here");
  app.add_option("--one", one, "(internal) separate this file and print timings");
  bool end_to_end = false;
  msaas::bench::EndToEndOptions e2e;
  std::string e2e_lengths = "30,60", official_args = "-j 2", tuned_env = kTunedEnv,
              tuned_args = kTunedArgs;
  app.add_flag("--end-to-end", end_to_end,
               "Time the command lines instead: msaas separate (WAV, MP3, fast) against "
               "python3 -m demucs.separate as installed and tuned (with $DEMUCS_SRC)");
  app.add_option("--e2e-lengths", e2e_lengths, "Song lengths for --end-to-end")
      ->capture_default_str();
  app.add_option("--rounds", e2e.rounds, "Interleaved rounds for --end-to-end")
      ->capture_default_str();
  app.add_option("--official-args", official_args, "Options of the official command line")
      ->capture_default_str();
  app.add_option("--tuned-env", tuned_env, "Environment of the tuned official run")
      ->capture_default_str();
  app.add_option("--tuned-args", tuned_args, "Options of the tuned official run")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    if (!one.empty()) return run_one(one, repo, name, threads, fast);
    if (end_to_end) {
      e2e.msaas = fs::canonical("/proc/self/exe").parent_path() / "msaas";
      e2e.repo = fs::absolute(repo).string();
      e2e.name = name;
      e2e.threads = threads;
      e2e.lengths = parse_lengths(e2e_lengths);
      if (const char* src = std::getenv("DEMUCS_SRC")) e2e.demucs_src = src;
      e2e.official_args = words(official_args);
      e2e.tuned_env = words(tuned_env);
      e2e.tuned_args = words(tuned_args);
      auto results = msaas::bench::run_end_to_end(e2e);
      if (!json_out.empty()) std::ofstream(json_out) << results.dump(2) << "\n";
      return 0;
    }
    auto model = msaas::Separator::from_repo(name, repo);
    double flops = model->flops_per_segment();
    double peak = machine_peak_gflops(threads);
    const char* demucs_src = std::getenv("DEMUCS_SRC");
    fs::path self = fs::canonical("/proc/self/exe");
    fs::path script = self.parent_path().parent_path() / "bench" / "official_apply.py";
    if (!fs::exists(script)) script = fs::path(MSAAS_SOURCE_DIR) / "bench" / "official_apply.py";
    std::printf("model %s: %.1f GFLOP per segment; machine peak %.0f GFLOP/s (%d threads)\n",
                name.c_str(), flops / 1e9, peak, threads);
    std::printf("%8s %9s %6s %9s %8s %6s | %9s %6s %9s | %6s\n", "length", "wall s", "RTF",
                "peak MB", "GFLOP/s", "%peak", "official", "RTF", "peak MB", "ratio");
    json results = {{"model", name},
                    {"threads", threads},
                    {"fast", fast},
                    {"gflop_per_segment", flops / 1e9},
                    {"machine_peak_gflops", peak},
                    {"runs", json::array()}};
    auto official_set = parse_lengths(official_lengths);
    for (double seconds : parse_lengths(lengths)) {
      fs::path wav = fs::temp_directory_path() / ("msaas-bench-" + std::to_string(getpid()) + "-" +
                                                  std::to_string(int(seconds)) + ".wav");
      msaas::bench::write_song(wav, seconds);
      std::vector<std::string> child{self.string(), "--one",     wav.string(),
                                     "--repo",      repo,        "-n",
                                     name,          "--threads", std::to_string(threads)};
      if (fast) child.push_back("--fast");
      auto ours = msaas::bench::run_child(child);
      if (ours.exit_code != 0) throw std::runtime_error("the separation run failed");
      auto r = json::parse(ours.out);
      double wall = r["wall"], gflops = r["segments"].get<double>() * flops / wall / 1e9;
      json run = {{"seconds", seconds},         {"wall", wall},
                  {"rtf", wall / seconds},      {"peak_mb", ours.peak_kb / 1024.0},
                  {"gflops", gflops},           {"segments", r["segments"]},
                  {"loaded_mb", r["loaded_mb"]}};
      if (!results.contains("compute")) {
        results["compute"] = r["compute"];
        std::printf("compute: %s; %.0f MB resident once the model is loaded\n",
                    r["compute"].get<std::string>().c_str(), r["loaded_mb"].get<double>());
      }
      std::printf("%7.0fs %9.1f %6.3f %9.0f %8.1f %5.1f%%", seconds, wall, wall / seconds,
                  ours.peak_kb / 1024.0, gflops, 100 * gflops / peak);
      bool official = demucs_src && std::find(official_set.begin(), official_set.end(), seconds) !=
                                        official_set.end();
      if (official) {
        auto theirs = msaas::bench::run_child({"/usr/bin/python3", script.string(), wav.string(),
                                               repo, name, std::to_string(threads)},
                                              {std::string("PYTHONPATH=") + demucs_src});
        if (theirs.exit_code != 0) throw std::runtime_error("the official run failed");
        double owall = json::parse(theirs.out)["wall"];
        run["official"] = {
            {"wall", owall}, {"rtf", owall / seconds}, {"peak_mb", theirs.peak_kb / 1024.0}};
        std::printf(" | %9.1f %6.3f %9.0f | %5.2fx\n", owall, owall / seconds,
                    theirs.peak_kb / 1024.0, owall / wall);
      } else {
        std::printf(" | %9s %6s %9s | %6s\n", "-", "-", "-", "-");
      }
      std::fflush(stdout);
      results["runs"].push_back(run);
      fs::remove(wav);
    }
    if (!json_out.empty()) std::ofstream(json_out) << results.dump(2) << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "msaas-bench: error: " << e.what() << "\n";
    return 1;
  }
}

// bench/engine_bench.cpp: see engine_bench.h. Peak memory per run comes from the kernel
// (wait4); GFLOP/s counts the model's products (Separator::flops_per_segment) against the
// machine's fp32 peak, measured here.
#include "engine_bench.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <thread>

#include "bench_support.h"
#include "msaas/engine.h"

namespace msaas::bench {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

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

// One separation by the engine in a fresh process (`msaas-bench --one`).
json run_ours(const EngineBenchOptions& o, const fs::path& wav, double seconds, bool fast,
              double flops) {
  std::vector<std::string> child{fs::canonical("/proc/self/exe").string(),
                                 "--one",
                                 wav.string(),
                                 "--repo",
                                 o.repo,
                                 "-n",
                                 o.name,
                                 "--threads",
                                 std::to_string(o.threads)};
  if (fast) child.push_back("--fast");
  auto ours = run_child(child);
  if (ours.exit_code != 0) throw std::runtime_error("the separation run failed: " + ours.err);
  auto r = json::parse(ours.out);
  double wall = r["wall"];
  return {{"wall", wall},
          {"rtf", wall / seconds},
          {"peak_mb", ours.peak_kb / 1024.0},
          {"gflops", r["segments"].get<double>() * flops / wall / 1e9},
          {"segments", r["segments"]},
          {"loaded_mb", r["loaded_mb"]},
          {"compute", r["compute"]}};
}

// The official apply_model on the same file (bench/official_apply.py), with `env` added.
json run_official(const EngineBenchOptions& o, const fs::path& wav, double seconds,
                  std::vector<std::string> env) {
  env.push_back("PYTHONPATH=" + o.demucs_src);
  auto theirs = run_child({"/usr/bin/python3", source_file("bench/official_apply.py").string(),
                           wav.string(), o.repo, o.name, std::to_string(o.threads)},
                          env);
  if (theirs.exit_code != 0) throw std::runtime_error("the official run failed: " + theirs.err);
  double wall = json::parse(theirs.out)["wall"];
  return {{"wall", wall}, {"rtf", wall / seconds}, {"peak_mb", theirs.peak_kb / 1024.0}};
}

std::string wall_and_peak(const json& run) {
  char text[64];
  std::snprintf(text, sizeof text, "%6.1f s %5.0f MB", run["wall"].get<double>(),
                run["peak_mb"].get<double>());
  return text;
}

// "official / exact: 2.30x, tuned / exact: 1.80x; ..." for each of our modes in `run`.
std::string ratios(const json& run) {
  std::string out;
  for (const char* mode : {"exact", "fast"}) {
    if (!run.contains(mode)) continue;
    double mine = run[mode]["wall"];
    char text[128];
    std::snprintf(text, sizeof text, "  official / %s: %.2fx, tuned / %s: %.2fx;", mode,
                  run["official"]["wall"].get<double>() / mine, mode,
                  run["official_tuned"]["wall"].get<double>() / mine);
    out += text;
  }
  return out;
}

// One length: ours in each mode, then the official code as installed and tuned.
json run_length(const EngineBenchOptions& o, double seconds, double flops, double peak,
                json& results) {
  ScratchFolder scratch(fs::temp_directory_path() / ("msaas-bench-" + std::to_string(getpid())));
  fs::path song = scratch.path / ("song-" + std::to_string(int(seconds)) + ".wav");
  write_song(song, seconds);
  json run = {{"seconds", seconds}};
  std::string row;
  for (bool fast : {false, true}) {
    if (!(fast ? o.fast : o.exact)) continue;
    json ours = run_ours(o, song, seconds, fast, flops);
    if (!results.contains("compute")) {
      results["compute"] = ours["compute"];
      std::printf("compute: %s; %.0f MB resident once the model is loaded\n",
                  ours["compute"].get<std::string>().c_str(), ours["loaded_mb"].get<double>());
    }
    ours.erase("compute");
    char figures[96];
    std::snprintf(figures, sizeof figures, " RTF %.3f, %.1f GFLOP/s (%.1f %%)",
                  ours["rtf"].get<double>(), ours["gflops"].get<double>(),
                  100 * ours["gflops"].get<double>() / peak);
    row += std::string(fast ? "  fast " : "  exact ") + wall_and_peak(ours) + figures;
    run[fast ? "fast" : "exact"] = ours;
  }
  const auto& set = o.official_lengths;
  bool official = !o.demucs_src.empty() && std::find(set.begin(), set.end(), seconds) != set.end();
  if (official) {
    run["official"] = run_official(o, song, seconds, {});
    run["official_tuned"] = run_official(o, song, seconds, o.tuned_env);  // "" env: as is
    row += "  | official " + wall_and_peak(run["official"]) + "  tuned " +
           wall_and_peak(run["official_tuned"]);
  }
  std::printf("%4.0f s:%s\n", seconds, row.c_str());
  if (official) std::printf("       %s\n", ratios(run).c_str());
  std::fflush(stdout);
  return run;
}

}  // namespace

json run_engine_bench(const EngineBenchOptions& o, const std::vector<double>& lengths) {
  // Only for its FLOP count: not kept while the runs are measured.
  double flops = Separator::from_repo(o.name, o.repo)->flops_per_segment();
  double peak = machine_peak_gflops(o.threads);
  std::printf("model %s: %.1f GFLOP per segment; machine peak %.0f GFLOP/s (%d threads)\n",
              o.name.c_str(), flops / 1e9, peak, o.threads);
  json results = {{"model", o.name},
                  {"threads", o.threads},
                  {"modes", json::array()},
                  {"gflop_per_segment", flops / 1e9},
                  {"machine_peak_gflops", peak},
                  {"runs", json::array()}};
  if (o.exact) results["modes"].push_back("exact");
  if (o.fast) results["modes"].push_back("fast");
  for (double seconds : lengths)
    results["runs"].push_back(run_length(o, seconds, flops, peak, results));
  return results;
}

}  // namespace msaas::bench

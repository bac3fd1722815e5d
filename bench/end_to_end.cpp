// bench/end_to_end.cpp: see end_to_end.h. Every command runs in a fresh process; its wall time
// is from fork to exit and its peak memory comes from the kernel. Rounds are interleaved (ours,
// then the official ones, then ours again) because this machine drifts by 10-20 % in minutes.
#include "end_to_end.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <regex>
#include <stdexcept>

#include "bench_support.h"

namespace msaas::bench {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct Command {
  std::string label;
  std::vector<std::string> argv, env;
};

std::vector<std::string> ours(const EndToEndOptions& o, const fs::path& out,
                              std::vector<std::string> extra) {
  std::vector<std::string> argv{
      o.msaas.string(),          "separate",  "--repo", o.repo,      "-n", o.name, "-j",
      std::to_string(o.threads), "--timings", "-o",     out.string()};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

std::vector<std::string> official(const EndToEndOptions& o, const fs::path& out,
                                  const std::vector<std::string>& extra) {
  std::vector<std::string> argv{
      "/usr/bin/python3", "-m", "demucs.separate", "--repo", o.repo, "-n", o.name, "-o",
      out.string()};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

std::vector<Command> commands(const EndToEndOptions& o, const fs::path& out, const fs::path& song) {
  std::vector<Command> list{
      {"msaas WAV", ours(o, out, {song.string()}), {}},
      {"msaas MP3", ours(o, out, {"--mp3", song.string()}), {}},
      {"msaas fast WAV", ours(o, out, {"--fast", song.string()}), {}},
  };
  if (o.demucs_src.empty()) return list;
  // The official MP3 path imports lameenc, which Debian lacks: bench/official has a stand-in on
  // the same LAME library (see its comment). It comes first, so it also stands in for a real
  // lameenc where one is installed (run_end_to_end says so).
  std::string pythonpath = "PYTHONPATH=" + o.lameenc.string() + ":" + o.demucs_src;
  for (bool tuned : {false, true}) {
    auto env = tuned ? o.tuned_env : std::vector<std::string>{};
    env.push_back(pythonpath);
    std::string label = tuned ? "official tuned" : "official";
    for (bool mp3 : {false, true}) {
      auto args = tuned ? o.tuned_args : o.official_args;
      if (mp3) args.push_back("--mp3");
      args.push_back(song.string());
      list.push_back({label + (mp3 ? " MP3" : " WAV"), official(o, out, args), env});
    }
  }
  return list;
}

// "separate 5.03 s" from `msaas separate --timings`.
double timing(const std::string& err, const std::string& phase) {
  std::smatch m;
  if (!std::regex_search(err, m, std::regex(phase + " ([0-9.]+) s")))
    throw std::runtime_error("msaas separate --timings printed no " + phase + " time: " + err);
  return std::stod(m[1]);
}

ChildResult run_checked(const Command& c) {
  auto r = run_child(c.argv, c.env);
  if (r.exit_code != 0)
    throw std::runtime_error(c.label + " failed (exit " + std::to_string(r.exit_code) +
                             "): " + r.err.substr(r.err.size() > 2000 ? r.err.size() - 2000 : 0));
  return r;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n == 0 ? 0 : n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double fastest(const std::vector<double>& v) {
  return v.empty() ? 0 : *std::min_element(v.begin(), v.end());
}

// Round by round: f(a[r], b[r]) for the runs of one round. This takes out the machine's drift
// between rounds, not within one (a 60 s round lasts about four minutes, ours always first).
template <typename F>
std::vector<double> by_round(const std::vector<double>& a, const std::vector<double>& b, F f) {
  if (a.size() != b.size()) throw std::logic_error("by_round: runs missing from some rounds");
  std::vector<double> out;
  for (size_t r = 0; r < a.size(); ++r) out.push_back(f(a[r], b[r]));
  return out;
}

// What MP3 out costs over WAV out, round by round, for ours and each official command: mostly
// LAME's work on the stems (ours on its -j threads, the official code one stem at a time), plus
// the runs' noise, so a round can even come out negative.
json mp3_costs(const std::map<std::string, std::vector<double>>& walls) {
  json costs = json::object();
  for (std::string who : {"msaas", "official", "official tuned"}) {
    auto wav = walls.find(who + " WAV"), mp3 = walls.find(who + " MP3");
    if (wav == walls.end() || mp3 == walls.end()) continue;
    auto extra = by_round(mp3->second, wav->second, [](double m, double w) { return m - w; });
    double typical = median(extra);
    std::printf("  MP3 over WAV, %s: %+.1f s (median of the rounds' differences)\n", who.c_str(),
                typical);
    costs[who] = {{"median_seconds", typical}, {"by_round", extra}};
  }
  return costs;
}

// The rest of the line that starts with `prefix` in a program's output ("" if none).
std::string line_after(const std::string& text, const std::string& prefix) {
  auto at = text.find(prefix);
  if (at == std::string::npos) return "";
  at += prefix.size();
  return text.substr(at, text.find('\n', at) - at);
}

// Runs of the fixed cost per format, at least: each takes seconds, and the machine's drift
// (docs/benchmarks.md) makes a median of two rounds' runs a coin toss.
constexpr int kFixedCostRuns = 7;

// Start, model load, decode and encode: all but the separation, on a 10 s song, WAV and MP3;
// also notes in `results` what computed them (the `Compute:` line of --timings).
json fixed_cost(const EndToEndOptions& o, const fs::path& dir, json& results) {
  fs::path song = dir / "ten-seconds.wav";
  write_song(song, 10);
  json out = json::object();
  for (const char* format : {"wav", "mp3"}) {
    std::vector<std::string> extra{song.string()};
    if (std::string(format) == "mp3") extra.insert(extra.begin(), "--mp3");
    std::vector<double> fixed;
    std::string last;  // the last run's --timings output
    for (int r = 0; r < std::max(kFixedCostRuns, o.rounds); ++r) {
      auto res = run_checked({"msaas", ours(o, dir / "out", extra), {}});
      fixed.push_back(res.wall - timing(res.err, "separate"));
      last = res.err;
    }
    std::string line = line_after(last, "Timings: ");
    if (!results.contains("compute")) {
      results["compute"] = line_after(last, "Compute: ");
      std::printf("compute: %s\n", results["compute"].get<std::string>().c_str());
    }
    std::printf(
        "fixed cost, 10 s song, %s out: %.2f s (median of %zu, fastest %.2f s; last run: "
        "%s)\n",
        format, median(fixed), fixed.size(), fastest(fixed), line.c_str());
    out[format] = {{"fixed_seconds", median(fixed)},
                   {"fastest_seconds", fastest(fixed)},
                   {"runs", fixed},
                   {"last_timings", line}};
  }
  return out;
}

}  // namespace

json run_end_to_end(const EndToEndOptions& o) {
  ScratchFolder scratch(fs::temp_directory_path() /
                        ("msaas-bench-e2e-" + std::to_string(getpid())));
  const fs::path& dir = scratch.path;
  if (!o.demucs_src.empty())
    std::printf("official MP3 runs: lameenc from %s (a stand-in on the system's LAME)\n",
                o.lameenc.c_str());
  json results = json::object();
  results["fixed_cost"] = fixed_cost(o, dir, results);
  results["lengths"] = json::array();
  for (double seconds : o.lengths) {
    fs::path song = dir / ("song-" + std::to_string(int(seconds)) + ".wav");
    write_song(song, seconds);
    auto list = commands(o, dir / "out", song);
    std::map<std::string, std::vector<double>> walls, peaks;
    std::printf("\n%.0f s song, %d interleaved rounds: wall s (peak MB)\n", seconds, o.rounds);
    for (int r = 0; r < o.rounds; ++r) {
      std::printf("  round %d:", r + 1);
      for (const auto& c : list) {
        auto res = run_checked(c);
        fs::remove_all(dir / "out");
        walls[c.label].push_back(res.wall);
        peaks[c.label].push_back(res.peak_kb / 1024.0);
        std::printf("  %s %.1f (%.0f)", c.label.c_str(), res.wall, res.peak_kb / 1024.0);
        std::fflush(stdout);
      }
      std::printf("\n");
    }
    json row = {{"seconds", seconds}};
    for (const auto& c : list)
      row[c.label] = {{"wall", walls[c.label]},
                      {"median_wall", median(walls[c.label])},
                      {"fastest_wall", fastest(walls[c.label])},
                      {"peak_mb", *std::max_element(peaks[c.label].begin(), peaks[c.label].end())}};
    if (!o.demucs_src.empty()) {
      // Each of ours against the official run that writes the same format (fast: WAV).
      for (std::string mine : {"msaas WAV", "msaas MP3", "msaas fast WAV"})
        for (std::string theirs : {"official", "official tuned"}) {
          theirs += mine.find("MP3") != std::string::npos ? " MP3" : " WAV";
          const auto &their_walls = walls.at(theirs), &my_walls = walls.at(mine);
          std::string pair = theirs + " / " + mine;
          double ratio = median(their_walls) / median(my_walls);
          // Best of the rounds too: on a shared machine the fastest run is the one least slowed
          // by its neighbours (steal time), for both sides alike.
          double best = fastest(their_walls) / fastest(my_walls);
          double paired =
              median(by_round(their_walls, my_walls, [](double t, double m) { return t / m; }));
          std::printf(
              "  %s / %s: %.2fx (medians), %.2fx (fastest runs), %.2fx (median of the "
              "rounds' ratios)\n",
              theirs.c_str(), mine.c_str(), ratio, best, paired);
          row["ratios"][pair] = ratio;
          row["best_ratios"][pair] = best;
          row["paired_ratios"][pair] = paired;
        }
    }
    row["mp3_over_wav"] = mp3_costs(walls);
    results["lengths"].push_back(row);
  }
  return results;
}

}  // namespace msaas::bench

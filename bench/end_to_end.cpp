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
  std::string pythonpath = "PYTHONPATH=" + o.demucs_src;
  auto plain = o.official_args, tuned = o.tuned_args;
  plain.push_back(song.string());
  tuned.push_back(song.string());
  list.push_back({"official", official(o, out, plain), {pythonpath}});
  auto env = o.tuned_env;
  env.push_back(pythonpath);
  list.push_back({"official tuned", official(o, out, tuned), env});
  return list;
}

// "separate 5.03 s" from `msaas separate --timings`.
double timing(const std::string& err, const std::string& phase) {
  std::smatch m;
  if (!std::regex_search(err, m, std::regex(phase + " ([0-9.]+) s")))
    throw std::runtime_error("msaas separate --timings printed no " + phase + " time: " + err);
  return std::stod(m[1]);
}

// The scratch folder goes whatever happens (songs of minutes are hundreds of MB).
struct ScratchFolder {
  fs::path path;
  explicit ScratchFolder(fs::path p) : path(std::move(p)) { fs::create_directories(path); }
  ~ScratchFolder() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

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

// Start, model load, decode and encode: all but the separation, on a 10 s song, WAV and MP3.
json fixed_cost(const EndToEndOptions& o, const fs::path& dir) {
  fs::path song = dir / "ten-seconds.wav";
  write_song(song, 10);
  json out = json::object();
  for (const char* format : {"wav", "mp3"}) {
    std::vector<std::string> extra{song.string()};
    if (std::string(format) == "mp3") extra.insert(extra.begin(), "--mp3");
    std::vector<double> fixed;
    std::string line;
    for (int r = 0; r < std::max(1, o.rounds); ++r) {
      auto res = run_checked({"msaas", ours(o, dir / "out", extra), {}});
      fixed.push_back(res.wall - timing(res.err, "separate"));
      auto at = res.err.find("Timings: ");
      line = at == std::string::npos ? "" : res.err.substr(at + 9, res.err.find('\n', at) - at - 9);
    }
    std::printf("fixed cost, 10 s song, %s out: %.2f s (median of %zu; last run: %s)\n", format,
                median(fixed), fixed.size(), line.c_str());
    out[format] = {{"fixed_seconds", median(fixed)}, {"runs", fixed}, {"last_timings", line}};
  }
  return out;
}

}  // namespace

json run_end_to_end(const EndToEndOptions& o) {
  ScratchFolder scratch(fs::temp_directory_path() /
                        ("msaas-bench-e2e-" + std::to_string(getpid())));
  const fs::path& dir = scratch.path;
  json results = {{"fixed_cost", fixed_cost(o, dir)}, {"lengths", json::array()}};
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
                      {"peak_mb", *std::max_element(peaks[c.label].begin(), peaks[c.label].end())}};
    if (!o.demucs_src.empty()) {
      for (const char* mine : {"msaas WAV", "msaas MP3", "msaas fast WAV"})
        for (const char* theirs : {"official", "official tuned"}) {
          double ratio = median(walls[theirs]) / median(walls[mine]);
          // the official side always writes WAV (its MP3 needs lameenc, which Debian lacks)
          std::printf("  %s (WAV) / %s: %.2fx\n", theirs, mine, ratio);
          row["ratios"][std::string(theirs) + " / " + mine] = ratio;
        }
    }
    results["lengths"].push_back(row);
  }
  return results;
}

}  // namespace msaas::bench

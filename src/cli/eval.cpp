// cli/eval.cpp: see eval.h.
#include "cli/eval.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "audio/decode.h"
#include "cli/progress.h"
#include "cli/sdr.h"
#include "msaas/engine.h"
#include "msaas/models.h"

namespace msaas::cli {
namespace fs = std::filesystem;

CLI::App* add_eval_command(CLI::App& app, EvalOptions& o) {
  auto* cmd = app.add_subcommand("eval", "Measure separation quality (SDR) on an evaluation set");
  cmd->add_option("set", o.set, "Folder of <mixture>/{mixture,drums,bass,other,vocals}.wav")
      ->required();
  cmd->add_option("-n,--name", o.name, "Model name or signature")->capture_default_str();
  cmd->add_option("--repo", o.repo, "Models folder (default: $MSAAS_MODELS)");
  cmd->add_option("--shifts", o.shifts, "Random shifts")->capture_default_str();
  cmd->add_option("--overlap", o.overlap, "Overlap between segments")->capture_default_str();
  cmd->add_option("--segment", o.segment, "Segment length in seconds");
  cmd->add_flag("--fast", o.fast, "Fast mode (bfloat16), to measure its cost in SDR");
  cmd->add_option("--seed", o.seed, "Seed of the shift offsets (recorded in the results)")
      ->capture_default_str();
  cmd->add_option("-j,--jobs", o.jobs, "Compute threads (0: all usable CPUs)");
  cmd->add_option("--estimates", o.estimates,
                  "Score stems made elsewhere: <folder>/<mixture>/<stem>.wav (no separation)");
  cmd->add_option("--json", o.json, "Write the results as JSON here");
  return cmd;
}

namespace {

std::vector<std::string> mixtures_in(const fs::path& set) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(set))
    if (fs::exists(e.path() / "mixture.wav")) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// Shift offsets for mixture `index`, recorded so the official code can use the same ones.
std::vector<int64_t> offsets_for(uint64_t seed, size_t index, int shifts, int sample_rate) {
  std::mt19937_64 rng(seed * 1000003 + index);
  std::uniform_int_distribution<int64_t> draw(0, sample_rate / 2);
  std::vector<int64_t> offsets;
  for (int i = 0; i < shifts; ++i) offsets.push_back(draw(rng));
  return offsets;
}

void write_json(const std::string& path, const nlohmann::json& results) {
  std::string temp = path + ".part";
  std::ofstream(temp) << results.dump(2) << "\n";
  fs::rename(temp, path);
}

void print_table(const nlohmann::json& results, const std::vector<std::string>& stems) {
  std::printf("%-12s", "mixture");
  for (const auto& s : stems) std::printf(" %9s", s.c_str());
  std::printf("\n");
  for (const auto& m : results["mixtures"]) {
    std::printf("%-12s", m["name"].get<std::string>().c_str());
    for (const auto& s : stems)
      std::printf(" %9.3f", m["sdr"].contains(s) ? m["sdr"][s].get<double>() : std::nan(""));
    std::printf("\n");
  }
  std::printf("%-12s", "median");
  for (const auto& s : stems) std::printf(" %9.3f", results["median"][s].get<double>());
  std::printf("\n");
}

}  // namespace

int run_eval(const EvalOptions& o) {
  try {
    if (!fs::is_directory(o.set)) throw std::runtime_error("no evaluation set at " + o.set);
    auto names = mixtures_in(o.set);
    if (names.empty()) throw std::runtime_error(o.set + " holds no <mixture>/mixture.wav");
    std::unique_ptr<Separator> model;
    if (o.estimates.empty())
      model = Separator::from_repo(o.name, o.repo.empty() ? default_models_folder() : o.repo);
    const int rate = model ? model->sample_rate() : 44100;
    const std::vector<std::string> stems = {"drums", "bass", "other", "vocals"};
    nlohmann::json results = {{"model", o.estimates.empty() ? o.name : "estimates:" + o.estimates},
                              {"shifts", o.shifts},
                              {"overlap", o.overlap},
                              {"seed", o.seed},
                              {"fast", o.fast},
                              {"mixtures", nlohmann::json::array()}};
    std::map<std::string, std::vector<double>> per_stem;
    for (size_t i = 0; i < names.size(); ++i) {
      fs::path dir = fs::path(o.set) / names[i];
      auto mix = audio::decode_file((dir / "mixture.wav").string(), rate, 2);
      nlohmann::json entry = {{"name", names[i]}, {"seconds", mix.seconds()}};
      std::map<std::string, std::vector<float>> estimates;
      if (model) {
        SeparationOptions so;
        so.shifts = o.shifts;
        so.overlap = o.overlap;
        so.segment = o.segment;
        so.threads = o.jobs;
        so.fast = o.fast;
        so.shift_offsets = offsets_for(o.seed, i, o.shifts, rate);
        entry["offsets"] = so.shift_offsets;
        ProgressReport report(names[i], mix.seconds());
        auto start = std::chrono::steady_clock::now();
        auto out = model->separate(mix.samples.data(), mix.frames, so, [&](const Progress& p) {
          report.update(p.fraction());
          return true;
        });
        report.done();
        entry["separation_seconds"] =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        size_t size = 2 * mix.frames;
        for (size_t s = 0; s < model->sources().size(); ++s)
          estimates[model->sources()[s]].assign(out.begin() + s * size,
                                                out.begin() + (s + 1) * size);
      } else {
        for (const auto& s : stems) {
          fs::path file = fs::path(o.estimates) / names[i] / (s + ".wav");
          if (fs::exists(file)) estimates[s] = audio::decode_file(file.string(), rate, 2).samples;
        }
      }
      for (const auto& s : stems) {
        if (!estimates.count(s) || !fs::exists(dir / (s + ".wav"))) continue;
        auto reference = audio::decode_file((dir / (s + ".wav")).string(), rate, 2);
        if (estimates[s].size() != reference.samples.size())
          throw std::runtime_error(names[i] + "/" + s + ": estimate and reference lengths differ");
        double sdr = sdr_db(reference.samples.data(), estimates[s].data(), estimates[s].size());
        entry["sdr"][s] = sdr;
        per_stem[s].push_back(sdr);
      }
      results["mixtures"].push_back(entry);
    }
    for (const auto& s : stems) results["median"][s] = median(per_stem[s]);
    print_table(results, stems);
    if (!o.json.empty()) write_json(o.json, results);
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "msaas: error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace msaas::cli

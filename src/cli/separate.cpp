// cli/separate.cpp: see separate.h. One model load, then each track: decode, separate, write the
// stems (temporary name, then rename). A bad track is reported in one line and skipped.
#include "cli/separate.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "audio/clip.h"
#include "audio/decode.h"
#include "audio/encode.h"
#include "audio/mix_spool.h"
#include "audio/stem_recipe.h"
#include "audio/stem_spool.h"
#include "cli/models.h"
#include "cli/output_names.h"
#include "cli/progress.h"
#include "cli/timings.h"
#include "msaas/engine.h"
#include "msaas/models.h"
#include "queue/job_settings.h"

namespace msaas::cli {
namespace fs = std::filesystem;

CLI::App* add_separate_command(CLI::App& app, SeparateOptions& o) {
  auto* cmd = app.add_subcommand("separate", "Separate tracks into stems (like demucs.separate)");
  cmd->add_option("tracks", o.tracks, "Audio files to separate (mp3, wav, flac, ogg, opus, m4a)");
  cmd->add_option("-n,--name", o.name, "Model name or signature")->capture_default_str();
  cmd->add_option("--repo", o.repo,
                  "Folder with the models (default: $MSAAS_MODELS or "
                  "~/.cache/msaas/models)");
  cmd->add_flag("--list-models", o.list_models, "List the models in the repo and exit");
  cmd->add_flag("--timings", o.timings,
                "Print where the time went (start, model, decode, separate, encode) and "
                "what computed it");
  cmd->add_option("-o,--out", o.out, "Output folder; a subfolder named after the model is made")
      ->capture_default_str();
  cmd->add_option("--filename", o.filename,
                  "Output file name; {track}, {trackext}, {stem}, {ext} are replaced")
      ->capture_default_str();
  cmd->add_option("--shifts", o.shifts, "Random shifts averaged (better, slower)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--overlap", o.overlap, "Overlap between segments")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 0.99));
  auto* no_split = cmd->add_flag("--no-split", o.no_split, "Do not split the audio in segments");
  cmd->add_option("--segment", o.segment, "Segment length in seconds")
      ->check(CLI::PositiveNumber)
      ->excludes(no_split);
  cmd->add_option("--two-stems", o.two_stems, "Only STEM and no_STEM (e.g. vocals)");
  cmd->add_option("--other-method", o.other_method, "How no_STEM is made: add, minus or none")
      ->check(CLI::IsMember({"none", "add", "minus"}))
      ->capture_default_str();
  auto* int24 = cmd->add_flag("--int24", o.int24, "24-bit WAV/FLAC output");
  cmd->add_flag("--float32", o.float32, "32-bit float WAV output")->excludes(int24);
  auto* mp3 = cmd->add_flag("--mp3", o.mp3, "MP3 output");
  cmd->add_flag("--flac", o.flac, "FLAC output")->excludes(mp3);
  cmd->add_option("--mp3-bitrate", o.mp3_bitrate, "MP3 bitrate in kbit/s")
      ->capture_default_str()
      ->check(CLI::IsMember({32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320}));
  cmd->add_option("--mp3-preset", o.mp3_preset, "MP3 encoder quality: 2 best ... 7 fastest")
      ->capture_default_str()
      ->check(CLI::Range(2, 7));
  cmd->add_option("--clip-mode", o.clip_mode, "Avoid clipping: rescale, clamp or none")
      ->check(CLI::IsMember({"rescale", "clamp", "none"}))
      ->capture_default_str();
  cmd->add_option("-j,--jobs", o.jobs, "Compute threads (0: all usable CPUs)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--seed", o.seed, "Seed for the random shifts (reproducible output)");
  cmd->add_flag("--fast", o.fast,
                "Fast mode: bfloat16 matrix work where the CPU has it (slightly different stems)");
  cmd->add_option("-d,--device", o.device,
                  "cpu, cuda, cuda:N, or auto (a GPU when there is one, else the CPU)")
      ->capture_default_str();
  return cmd;
}

namespace {

void print_error(const std::string& message) {
  std::cerr << "msaas: error: " << message << "\n";
}

audio::EncodeOptions encode_options(const SeparateOptions& o) {
  audio::EncodeOptions e;
  e.format = o.mp3 ? audio::Format::mp3 : o.flac ? audio::Format::flac : audio::Format::wav;
  e.depth = o.int24     ? audio::SampleDepth::int24
            : o.float32 ? audio::SampleDepth::float32
                        : audio::SampleDepth::int16;
  // Like the official tool, --float32 applies to WAV only: FLAC stays 16-bit.
  if (o.flac && o.float32) e.depth = audio::SampleDepth::int16;
  e.mp3_bitrate_kbps = o.mp3_bitrate;
  e.mp3_quality = o.mp3_preset;
  return e;
}

// The files one track gives, in the official tool's order: every source, or with --two-stems
// STEM: minus_STEM (--other-method minus), STEM, no_STEM (--other-method add).
std::vector<std::string> output_stems(const SeparateOptions& o,
                                      const std::vector<std::string>& sources) {
  if (o.two_stems.empty()) return sources;
  std::vector<std::string> names;
  if (o.other_method == "minus") names.push_back("minus_" + o.two_stems);
  names.push_back(o.two_stems);
  if (o.other_method == "add") names.push_back("no_" + o.two_stems);
  return names;
}

SeparationOptions separation_options(const SeparateOptions& o) {
  SeparationOptions so;
  so.shifts = o.shifts;
  so.overlap = o.overlap;
  so.split = !o.no_split;
  so.segment = o.segment;
  so.seed = o.seed;
  so.threads = o.jobs;
  so.fast = o.fast;
  return so;
}

// --two-stems STEM names a stem the model has: the same check (and words) as a job's two:STEM.
void check_two_stems(const SeparateOptions& o, const std::vector<std::string>& sources) {
  try {
    queue::Stems{queue::Stems::Set::two, o.two_stems}.outputs(sources);
  } catch (const queue::SettingsError& e) {
    throw std::invalid_argument(std::string(e.what()) + " (--two-stems, model " + o.name + ")");
  }
}

bool separate_track(const SeparateOptions& o, const Separator& model, const std::string& track,
                    const fs::path& out_dir, PhaseTimings& timings) {
  try {
    audio::MixSpool mix(track, model.sample_rate(), model.audio_channels(),
                        fs::temp_directory_path().string());
    timings.mark("decode");
    std::cerr << "Separating track " << track << " (" << mix.seconds() << " s)\n";
    SeparationOptions so = separation_options(o);
    auto format = encode_options(o);
    auto clip = audio::parse_clip_mode(o.clip_mode);
    std::string track_file = fs::path(track).filename().string();
    auto names = output_stems(o, model.sources());
    std::vector<fs::path> paths;
    for (const auto& name : names)
      paths.push_back(out_dir /
                      stem_filename(o.filename, track_file, name, audio::extension(format.format)));
    auto recipes = audio::stem_recipes(names, model.sources());
    bool needs_mix = std::any_of(recipes.begin(), recipes.end(),
                                 [](const audio::StemRecipe& r) { return r.from_mix; });
    audio::StemSpool spool(paths, mix.channels(), {mix.sample_rate(), clip, format, so.threads});
    ProgressReport report(track_file, mix.seconds());
    int64_t done = 0;
    std::vector<float> mix_piece;
    model.separate_stream(
        [&](int64_t offset, int64_t n, float* out) { mix.read(offset, n, out); }, mix.frames(), so,
        [&](const float* stems, int64_t n) {
          // minus_STEM is the mix less the stem: the same frames of the mix.
          if (needs_mix) {
            mix_piece.resize(mix.channels() * n);
            mix.read(done, n, mix_piece.data());
          }
          audio::mix_stems(recipes, stems, mix_piece.data(), mix.channels() * n,
                           [&](size_t i, const float* stem) { spool.append(i, stem, n); });
          done += n;
        },
        [&](const Progress& p) {
          report.update(p.fraction());
          return true;
        });
    report.done();
    timings.mark("separate");
    spool.encode_all();
    timings.mark("encode");
    return true;
  } catch (const std::exception& e) {
    print_error(e.what());
    timings.mark("failed");
    return false;
  }
}

}  // namespace

int run_separate(const SeparateOptions& options) {
  SeparateOptions o = options;
  if (o.repo.empty()) o.repo = default_models_folder();
  if (o.list_models) return print_model_list(o.repo);
  if (o.tracks.empty()) {
    print_error("no tracks given (msaas separate TRACK...)");
    return 2;
  }
  PhaseTimings timings;
  std::unique_ptr<Separator> model;
  try {
    // A bad pattern is refused before any work; so is one that gives every stem the same file.
    if (stem_filename(o.filename, "x.mp3", "a", "wav") ==
        stem_filename(o.filename, "x.mp3", "b", "wav"))
      throw std::invalid_argument(
          "--filename must hold {stem}: every stem needs a file of its own");
    model = Separator::from_repo(o.name, o.repo, o.device);
    if (!o.two_stems.empty()) check_two_stems(o, model->sources());
    model->check(separation_options(o));
    timings.mark("model");
  } catch (const std::exception& e) {
    print_error(e.what());
    return 1;
  }
  fs::path out_dir = fs::path(o.out) / o.name;
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec || access(out_dir.c_str(), W_OK) != 0) {
    print_error("cannot write to output folder " + out_dir.string() +
                (ec ? ": " + ec.message() : ": permission denied"));
    return 1;
  }
  std::cerr << "Separated tracks will be stored in " << fs::absolute(out_dir).string() << "\n";
  int failed = 0;
  for (const auto& track : o.tracks) failed += !separate_track(o, *model, track, out_dir, timings);
  if (o.timings) {
    std::cerr << "Timings: " << timings.line() << "\n";
    std::cerr << "Compute: " << compute_summary() << "\n";
  }
  if (failed) std::cerr << "msaas: " << failed << " of " << o.tracks.size() << " tracks failed\n";
  return failed ? 1 : 0;
}

}  // namespace msaas::cli

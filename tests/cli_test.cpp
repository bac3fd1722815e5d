// `msaas separate` end to end, as a user runs it: layout, formats, parity with the official
// command line on a mono file with --two-stems, and every kind of bad input.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <regex>

#include "audio/decode.h"
#include "support.h"

namespace msaas::test {
namespace {

const std::vector<std::string> kFour = {"drums", "bass", "other", "vocals"};

std::string repo() {
  return (test_data() / "parity" / "models").string();
}

std::string codec_of(const fs::path& file) {
  return run({"ffprobe", "-v", "error", "-show_entries", "stream=codec_name,sample_fmt", "-of",
              "default=nw=1", file.string()})
      .out;
}

// Every file below `dir`, as paths relative to it.
std::vector<std::string> tree(const fs::path& dir) {
  std::vector<std::string> files;
  if (!fs::exists(dir)) return files;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) files.push_back(fs::relative(e.path(), dir).string());
  std::sort(files.begin(), files.end());
  return files;
}

int count_lines(const std::string& text) {
  return std::count(text.begin(), text.end(), '\n');
}

TEST(Cli, WritesOneWavPerStemUnderOutNameTrack) {
  TempDir dir;
  auto track = make_tone(dir / "song.mp3", 2.0, 44100, 2, {"-c:a", "libmp3lame"});
  auto r = run_msaas({"separate", "--repo", repo(), "-n", "tinyht1", "-o", (dir / "sep").string(),
                      track.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(tree(dir / "sep"),
            (std::vector<std::string>{"tinyht1/song/bass.wav", "tinyht1/song/drums.wav",
                                      "tinyht1/song/other.wav", "tinyht1/song/vocals.wav"}));
  auto stem = dir / "sep" / "tinyht1" / "song" / "vocals.wav";
  EXPECT_NE(codec_of(stem).find("pcm_s16le"), std::string::npos);
  auto audio = audio::decode_file(stem.string(), 8000, 2);  // the model's rate
  EXPECT_NEAR(audio.seconds(), 2.0, 0.06);
}

TEST(Cli, FormatsAndFilenamePattern) {
  TempDir dir;
  auto track = make_tone(dir / "a.wav", 1.0, 8000, 2);
  auto r = run_msaas({"separate", "--repo", repo(), "-n", "tinyht1", "--shifts", "0", "--mp3",
                      "--mp3-bitrate", "128", "--filename", "{track}-{stem}.{ext}", "-o",
                      (dir / "o").string(), track.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(tree(dir / "o").size(), 4u);
  EXPECT_NE(codec_of(dir / "o" / "tinyht1" / "a-bass.mp3").find("codec_name=mp3"),
            std::string::npos);
  r = run_msaas({"separate", "--repo", repo(), "-n", "tinyht1", "--shifts", "0", "--flac",
                 "--int24", "-o", (dir / "f").string(), track.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto flac = dir / "f" / "tinyht1" / "a" / "drums.flac";
  EXPECT_NE(codec_of(flac).find("codec_name=flac"), std::string::npos);
  EXPECT_NE(codec_of(flac).find("s32"), std::string::npos);
}

TEST(Cli, MonoTwoStemsMatchesTheOfficialCommandLine) {
  TempDir dir;
  fs::path data = test_data() / "parity";
  auto r =
      run_msaas({"separate", "--repo", repo(), "-n", "tinyht1", "--shifts", "0", "--two-stems",
                 "vocals", "--float32", "-o", (dir / "o").string(), (data / "mono.wav").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(tree(dir / "o"),
            (std::vector<std::string>{"tinyht1/mono/no_vocals.wav", "tinyht1/mono/vocals.wav"}));
  for (std::string stem : {"vocals", "no_vocals"}) {
    auto mine =
        audio::decode_file((dir / "o" / "tinyht1" / "mono" / (stem + ".wav")).string(), 8000, 2);
    auto theirs = audio::decode_file((data / ("mono." + stem + ".wav")).string(), 8000, 2);
    ASSERT_EQ(mine.frames, theirs.frames);
    EXPECT_GE(snr_db(mine.samples.data(), theirs.samples.data(), mine.samples.size()), 60.0)
        << stem;
  }
}

// --other-method minus writes the mix less the stem (minus_vocals) before it, none the stem alone:
// the two add up to the mix, as in the official tool (unscaled: --clip-mode none).
TEST(Cli, OtherMethodsMinusAndNone) {
  TempDir dir;
  fs::path mono = test_data() / "parity" / "mono.wav";
  auto separate = [&](const std::string& method) {
    auto r = run_msaas({"separate", "--repo", repo(), "-n", "tinyht1", "--shifts", "0",
                        "--two-stems", "vocals", "--other-method", method, "--float32",
                        "--clip-mode", "none", "-o", (dir / method).string(), mono.string()});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return dir / method / "tinyht1" / "mono";
  };
  auto minus = separate("minus");
  EXPECT_EQ(tree(dir / "minus"),
            (std::vector<std::string>{"tinyht1/mono/minus_vocals.wav", "tinyht1/mono/vocals.wav"}));
  auto mix = audio::decode_file(mono.string(), 8000, 2);
  auto vocals = audio::decode_file((minus / "vocals.wav").string(), 8000, 2);
  auto rest = audio::decode_file((minus / "minus_vocals.wav").string(), 8000, 2);
  ASSERT_EQ(vocals.samples.size(), mix.samples.size());
  ASSERT_EQ(rest.samples.size(), mix.samples.size());
  std::vector<float> sum(mix.samples.size());
  for (size_t i = 0; i < sum.size(); ++i) sum[i] = vocals.samples[i] + rest.samples[i];
  EXPECT_GE(snr_db(sum.data(), mix.samples.data(), sum.size()), 100.0);
  separate("none");
  EXPECT_EQ(tree(dir / "none"), (std::vector<std::string>{"tinyht1/mono/vocals.wav"}));
}

TEST(Cli, BadTracksFailAloneAndLeaveNoStems) {
  TempDir dir;
  auto good = make_tone(dir / "good.wav", 1.0, 8000, 2);
  write_text(dir / "empty.mp3", "");
  write_text(dir / "text.mp3", std::string(5000, 'x'));
  auto full = make_tone(dir / "full.mp3", 4.0, 44100, 2, {"-c:a", "libmp3lame"});
  std::string bytes = read_text(full);
  write_text(dir / "cut.mp3", bytes.substr(0, bytes.size() / 2));
  auto r =
      run_msaas({"separate", "--repo", repo(), "-n", "tinyht1", "--shifts", "0", "-o",
                 (dir / "o").string(), (dir / "missing.mp3").string(), (dir / "empty.mp3").string(),
                 (dir / "text.mp3").string(), (dir / "cut.mp3").string(), good.string()});
  EXPECT_EQ(r.exit_code, 1);
  // One readable line per bad track, each naming its file.
  for (std::string name : {"missing.mp3", "empty.mp3", "text.mp3", "cut.mp3"}) {
    auto at = r.err.find("msaas: error: ");
    bool named = false;
    for (; at != std::string::npos; at = r.err.find("msaas: error: ", at + 1)) {
      auto line = r.err.substr(at, r.err.find('\n', at) - at);
      named |= line.find(name) != std::string::npos;
    }
    EXPECT_TRUE(named) << name << " in:\n" << r.err;
  }
  // The good track is done; nothing else was written, not even temporary files.
  EXPECT_EQ(tree(dir / "o"),
            (std::vector<std::string>{"tinyht1/good/bass.wav", "tinyht1/good/drums.wav",
                                      "tinyht1/good/other.wav", "tinyht1/good/vocals.wav"}));
}

TEST(Cli, UnknownModelIsOneLineAndExitOne) {
  TempDir dir;
  auto track = make_tone(dir / "a.wav", 0.5, 8000, 2);
  auto r = run_msaas({"separate", "--repo", repo(), "-n", "nosuchmodel", "-o", (dir / "o").string(),
                      track.string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("nosuchmodel"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir / "o"));
}

TEST(Cli, UnwritableOutputFolderIsOneLineAndExitOne) {
  TempDir dir;
  auto track = make_tone(dir / "a.wav", 0.5, 8000, 2);
  write_text(dir / "blocker", "a file where a folder should be");
  auto r = run_msaas({"separate", "--repo", repo(), "-n", "tinyht1", "-o",
                      (dir / "blocker" / "out").string(), track.string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("cannot write to output folder"), std::string::npos) << r.err;
}

TEST(Cli, AskingForAMissingGpuIsOneLineAndExitOne) {
  TempDir dir;
  auto track = make_tone(dir / "a.wav", 0.5, 8000, 2);
  auto r = run_msaas({"separate", "--repo", repo(), "-n", "tinyht1", "-d", "cuda", "-o",
                      (dir / "o").string(), track.string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("no CUDA GPU"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "o" / "tinyht1"));
}

TEST(Cli, UsageErrorsExitTwo) {
  TempDir dir;
  auto track = make_tone(dir / "a.wav", 0.5, 8000, 2);
  EXPECT_EQ(run_msaas({"separate", "--no-such-flag", track.string()}).exit_code, 2);
  EXPECT_EQ(run_msaas({"separate", "--mp3", "--flac", track.string()}).exit_code, 2);
  EXPECT_EQ(run_msaas({"separate", "--clip-mode", "fold", track.string()}).exit_code, 2);
  EXPECT_EQ(run_msaas({"separate", "--repo", repo()}).exit_code, 2);  // no tracks
  auto r = run_msaas({"separate", "--repo", repo(), "-n", "tinyht1", "--two-stems", "flute", "-o",
                      (dir / "o").string(), track.string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("flute"), std::string::npos);
  r = run_msaas({"separate", "--repo", repo(), "-n", "tinyht1", "--segment", "5", "-o",
                 (dir / "o").string(), track.string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("maximum segment"), std::string::npos) << r.err;
}

float peak_of(const fs::path& file) {
  auto audio = audio::decode_file(file.string(), 8000, 2);
  float peak = 0;
  for (float v : audio.samples) peak = std::max(peak, std::fabs(v));
  return peak;
}

TEST(Cli, ClipModesApplyToWholeStems) {
  TempDir dir;
  // A float WAV peaking at 3: the stems go well over full scale.
  auto loud = make_tone(dir / "loud.wav", 2.0, 8000, 2, {"-af", "volume=6", "-c:a", "pcm_f32le"});
  auto separate = [&](const std::string& mode) {
    auto r = run_msaas({"separate", "--repo", repo(), "-n", "tinyht1", "--shifts", "0", "--float32",
                        "--clip-mode", mode, "-o", (dir / mode).string(), loud.string()});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    float peak = 0;
    for (const auto& stem : kFour)
      peak = std::max(peak, peak_of(dir / mode / "tinyht1" / "loud" / (stem + ".wav")));
    return peak;
  };
  EXPECT_GT(separate("none"), 1.0f);
  float rescaled = separate("rescale");
  EXPECT_LE(rescaled, 1.0f / 1.01f + 1e-6f);
  EXPECT_GT(rescaled, 0.98f);  // divided by 1.01 x its own peak, not squashed further
  EXPECT_LE(separate("clamp"), 0.99f + 1e-6f);
}

TEST(Cli, ModelsListShowsBagsAndSingles) {
  auto r = run_msaas({"models", "list", "--repo", repo()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("tinybag"), std::string::npos);
  EXPECT_NE(r.out.find("tinyhd"), std::string::npos);
  r = run_msaas({"separate", "--list-models", "--repo", repo()});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("tinyht6"), std::string::npos);
}

TEST(Cli, ProgressIsReportedInPlainLinesWhenNotATerminal) {
  TempDir dir;
  auto track = make_tone(dir / "a.wav", 3.0, 8000, 2);
  auto r = run_msaas(
      {"separate", "--repo", repo(), "-n", "tinyht1", "-o", (dir / "o").string(), track.string()});
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_NE(r.err.find("a.wav: 100%"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find('\r'), std::string::npos);
}

// Without {stem} every stem would be written to one file: refused before any work.
TEST(Cli, AFilenameWithoutStemIsRefused) {
  TempDir dir;
  auto track = make_tone(dir / "a.wav", 1.0, 8000, 2);
  auto r = run_msaas({"separate", "--repo", repo(), "-n", "tinyht1", "--filename", "{track}.{ext}",
                      "-o", (dir / "o").string(), track.string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--filename must hold {stem}"), std::string::npos) << r.err;
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_TRUE(tree(dir / "o").empty());
}

// --timings: a line saying where the wall time went, phase by phase, and one saying what
// computed it; nothing without it.
TEST(Cli, TimingsSayWhereTheTimeWent) {
  TempDir dir;
  auto track = make_tone(dir / "a.wav", 3.0, 8000, 2);
  std::vector<std::string> args{"separate",    "--repo", repo(), "-n",
                                "tinyht1",     "--mp3",  "-o",   (dir / "o").string(),
                                track.string()};
  auto plain = run_msaas(args);
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_EQ(plain.err.find("Timings:"), std::string::npos);
  EXPECT_EQ(plain.err.find("Compute:"), std::string::npos);
  args.insert(args.begin() + 1, "--timings");
  auto started = std::chrono::steady_clock::now();
  auto r = run_msaas(args);
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::smatch m;
  std::regex line(
      "Timings: start ([0-9.]+) s, model ([0-9.]+) s, decode ([0-9.]+) s, separate ([0-9.]+) s, "
      "encode ([0-9.]+) s; total ([0-9.]+) s\n");
  ASSERT_TRUE(std::regex_search(r.err, m, line)) << r.err;
  double sum = 0;
  for (int i = 1; i <= 5; ++i) sum += std::stod(m[i]);
  EXPECT_NEAR(std::stod(m[6]), sum, 0.03);
  EXPECT_GT(std::stod(m[1]), 0.0) << "loading the program's libraries takes time";
  EXPECT_GT(std::stod(m[4]), 0.0);
  EXPECT_LE(std::stod(m[6]), wall + 0.05) << "no phase is counted twice";
  EXPECT_TRUE(std::regex_search(r.err, std::regex("Compute: libtorch \\S+, [0-9]+ threads")))
      << "and what computed it: " << r.err;
}

}  // namespace
}  // namespace msaas::test

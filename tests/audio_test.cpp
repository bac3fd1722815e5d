// Audio I/O on files made by the real ffmpeg encoders: every input format, channel handling,
// resampling, lossless and lossy round trips, bad files, clipping.
#include <gtest/gtest.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <ctime>
#include <fstream>
#include <sstream>
#include <thread>

#include "audio/clip.h"
#include "audio/decode.h"
#include "audio/encode.h"
#include "audio/mix_spool.h"
#include "audio/stem_spool.h"
#include "support.h"

namespace msaas::test {
namespace {

using audio::AudioError;

double rms(const float* x, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += double(x[i]) * x[i];
  return std::sqrt(s / n);
}

// Dominant frequency of a pure tone from its zero crossings.
double tone_frequency(const float* x, int64_t n, int rate) {
  int crossings = 0;
  for (int64_t i = 1; i < n; ++i) crossings += (x[i - 1] < 0) != (x[i] < 0);
  return crossings / 2.0 / (double(n) / rate);
}

std::string probe(const fs::path& file) {
  return run({"ffprobe", "-v", "error", "-show_entries",
              "stream=codec_name,sample_fmt,bits_per_raw_sample,bit_rate,channels,sample_rate",
              "-of", "default=nw=1", file.string()})
      .out;
}

audio::Buffer sine_buffer(double seconds, int rate = 44100, float amplitude = 0.5f) {
  audio::Buffer b(rate, 2, static_cast<int64_t>(seconds * rate));
  for (int64_t i = 0; i < b.frames; ++i) {
    b.channel(0)[i] = amplitude * std::sin(2 * M_PI * 440 * i / rate);
    b.channel(1)[i] = amplitude * 0.5f * std::sin(2 * M_PI * 660 * i / rate);
  }
  return b;
}

struct FormatCase {
  std::string ext;
  std::vector<std::string> codec;
  int rate;
};

class DecodeFormat : public testing::TestWithParam<FormatCase> {};

TEST_P(DecodeFormat, DecodesToModelRateAndKeepsTheTone) {
  TempDir dir;
  const auto& c = GetParam();
  auto file = make_tone(dir / ("tone." + c.ext), 2.0, c.rate, 2, c.codec);
  auto b = audio::decode_file(file.string(), 44100, 2);
  EXPECT_EQ(b.sample_rate, 44100);
  EXPECT_EQ(b.channels, 2);
  EXPECT_NEAR(b.seconds(), 2.0, 0.06);           // lossy codecs add a few ms of priming
  int64_t mid = b.frames / 4, n = b.frames / 2;  // skip codec edges
  EXPECT_NEAR(rms(b.channel(0) + mid, n), 0.5 / std::sqrt(2.0), 0.03);
  EXPECT_NEAR(rms(b.channel(1) + mid, n), 0.25 / std::sqrt(2.0), 0.03);
  EXPECT_NEAR(tone_frequency(b.channel(0) + mid, n, 44100), 440, 5);
}

INSTANTIATE_TEST_SUITE_P(
    AllFormats, DecodeFormat,
    testing::Values(FormatCase{"mp3", {"-c:a", "libmp3lame", "-b:a", "192k"}, 44100},
                    FormatCase{"wav", {"-c:a", "pcm_s16le"}, 44100},
                    FormatCase{"flac", {"-c:a", "flac"}, 44100},
                    FormatCase{"ogg", {"-c:a", "libvorbis"}, 44100},
                    FormatCase{"opus", {"-c:a", "libopus", "-b:a", "128k"}, 48000},
                    FormatCase{"m4a", {"-c:a", "aac", "-b:a", "192k"}, 44100},
                    FormatCase{"wav", {"-c:a", "pcm_s24le"}, 48000}),
    [](const auto& test) { return test.param.ext + std::to_string(test.index); });

TEST(Decode, MonoIsDuplicatedOnBothChannels) {
  TempDir dir;
  auto file = make_tone(dir / "mono.wav", 1.0, 44100, 1);
  auto b = audio::decode_file(file.string(), 44100, 2);
  ASSERT_EQ(b.channels, 2);
  ASSERT_EQ(b.frames, 44100);
  for (int64_t i = 0; i < b.frames; ++i) ASSERT_EQ(b.channel(0)[i], b.channel(1)[i]);
  EXPECT_NEAR(rms(b.channel(0), b.frames), 0.5 / std::sqrt(2.0), 0.01);
}

TEST(Decode, MoreChannelsAreDownmixedToStereo) {
  TempDir dir;
  auto file = make_tone(dir / "surround.flac", 1.0, 44100, 6, {"-c:a", "flac"});
  auto b = audio::decode_file(file.string(), 44100, 2);
  ASSERT_EQ(b.channels, 2);
  EXPECT_EQ(b.frames, 44100);
  EXPECT_GT(rms(b.channel(0), b.frames), 0.05);
  EXPECT_GT(rms(b.channel(1), b.frames), 0.05);
}

TEST(Decode, ResamplesExactLength) {
  TempDir dir;
  auto file = make_tone(dir / "hi.wav", 3.0, 48000, 2);
  auto b = audio::decode_file(file.string(), 44100, 2);
  EXPECT_NEAR(b.frames, 3 * 44100, 2);
  EXPECT_NEAR(tone_frequency(b.channel(0) + 1000, b.frames - 2000, 44100), 440, 2);
}

// 44099 Hz against 44100 would need 44100 julius kernels: FFmpeg's soxr resamples such pairs.
TEST(Decode, ARateWithoutPracticalSincKernelsStillResamples) {
  TempDir dir;
  auto file = make_tone(dir / "odd.wav", 2.0, 44099, 2);
  auto b = audio::decode_file(file.string(), 44100, 2);
  EXPECT_NEAR(b.frames, 2 * 44100, 2);
  EXPECT_NEAR(tone_frequency(b.channel(0) + 1000, b.frames - 2000, 44100), 440, 2);
}

// Stems as the engine hands them over: pieces of uneven sizes, most longer than the spool's
// blocks and not multiples of them, so blocks start part-way through pieces.
const int64_t kPieceFrames[] = {10000, 3000, 7001, 4608, 12345, 1, 9000, 5000, 8000, 6000};
constexpr int kPieces = 10;

int64_t frames_in_pieces(int count) {
  int64_t frames = 0;
  for (int p = 0; p < count; ++p) frames += kPieceFrames[p];
  return frames;
}

std::vector<fs::path> stem_paths(const fs::path& folder, const std::string& ext = "mp3") {
  std::vector<fs::path> paths;
  for (const char* name : {"drums", "bass", "other", "vocals"})
    paths.push_back(folder / (std::string(name) + "." + ext));
  return paths;
}

// Piece `piece` of every stem: a tone per stem, `loud` times as strong in stem 2's last piece.
void append_piece(audio::StemSpool& spool, int piece, float loud = 1.0f) {
  int64_t frames = kPieceFrames[piece], start = frames_in_pieces(piece);
  std::vector<float> planar(2 * frames);
  for (size_t s = 0; s < 4; ++s) {
    float gain = (s == 2 && piece == kPieces - 1) ? loud : 1.0f;
    for (int c = 0; c < 2; ++c)
      for (int64_t i = 0; i < frames; ++i)
        planar[c * frames + i] = gain * 0.3f * std::sin(0.01f * (s + 1) * (start + i) + c);
    spool.append(s, planar.data(), frames);
  }
}

enum class Background { none, normal_priority, idle_priority };

// MP3 stems. At idle priority the background encoders would get next to no time while other
// tests keep the cores busy: the tests that need their progress run them at normal priority.
audio::StemEncoding mp3_encoding(int threads, Background background,
                                 audio::ClipMode clip = audio::ClipMode::rescale) {
  audio::StemEncoding e;
  e.format.format = audio::Format::mp3;
  e.clip = clip;
  e.threads = threads;
  e.in_background = background != Background::none;
  e.idle_priority = background == Background::idle_priority;
  return e;
}

// Waits (up to 30 s) for the background encoders to catch up with `frames` frames of every stem.
bool background_reaches(const audio::StemSpool& spool, int64_t frames) {
  for (int tries = 0; tries < 3000; ++tries) {
    bool all = true;
    for (size_t s = 0; s < 4; ++s) all = all && spool.frames_encoded(s) >= frames;
    if (all) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

std::vector<fs::path> encode_after_separation(const fs::path& folder, int threads, float loud,
                                              audio::ClipMode clip = audio::ClipMode::rescale) {
  auto paths = stem_paths(folder);
  audio::StemSpool spool(paths, 2, mp3_encoding(threads, Background::none, clip));
  for (int piece = 0; piece < kPieces; ++piece) append_piece(spool, piece, loud);
  EXPECT_EQ(spool.frames_encoded(0), 0);
  spool.encode_all();
  return paths;
}

const std::vector<std::string> kStemFiles = {"bass.mp3", "drums.mp3", "other.mp3", "vocals.mp3"};

// How many of this process's threads run under SCHED_IDLE: field 41 ("policy") of each
// /proc/self/task/TID/stat, counted from field 3, which follows the ") " that ends the name.
int idle_priority_threads() {
  int count = 0;
  for (const auto& task : fs::directory_iterator("/proc/self/task")) {
    std::string stat = read_text(task.path() / "stat");
    auto name_end = stat.rfind(") ");
    if (name_end == std::string::npos) continue;  // the thread ended while we looked
    std::istringstream fields(stat.substr(name_end + 2));
    std::string field;
    int number = 2;
    while (number < 41 && fields >> field) ++number;
    if (number == 41 && field == std::to_string(SCHED_IDLE)) ++count;
  }
  return count;
}

bool idle_priority_threads_become(int expected) {
  for (int tries = 0; tries < 1000; ++tries) {
    if (idle_priority_threads() == expected) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

// Stems encoded on several threads at once are the files one thread writes, byte for byte.
TEST(StemSpool, EncodingOnSeveralThreadsGivesTheSameFiles) {
  TempDir dir;
  auto one = encode_after_separation(dir / "one", 1, 1.0f);
  auto four = encode_after_separation(dir / "four", 4, 1.0f);
  EXPECT_EQ(names_in(dir / "four"), kStemFiles);
  for (size_t s = 0; s < one.size(); ++s) {
    EXPECT_GT(fs::file_size(one[s]), 1000u);
    EXPECT_EQ(read_text(one[s]), read_text(four[s])) << one[s].filename();
  }
}

// Encoding while the pieces arrive gives the files that encoding at the end gives: with every
// stem quiet; with stem 2's last piece loud enough to be rescaled (its early work is thrown away
// and done again); and clamped instead (the early work stands).
TEST(StemSpool, EncodingInTheBackgroundGivesTheSameFiles) {
  TempDir dir;
  struct Case {
    audio::ClipMode clip;
    float loud;
    const char* name;
  };
  for (Case c : {Case{audio::ClipMode::rescale, 1.0f, "quiet"},
                 Case{audio::ClipMode::rescale, 5.0f, "rescaled"},
                 Case{audio::ClipMode::clamp, 5.0f, "clamped"}}) {
    SCOPED_TRACE(c.name);
    auto expected = encode_after_separation(dir / "end" / c.name, 2, c.loud, c.clip);
    auto paths = stem_paths(dir / "early" / c.name);
    audio::StemSpool spool(paths, 2, mp3_encoding(2, Background::normal_priority, c.clip));
    for (int piece = 0; piece < kPieces - 1; ++piece) append_piece(spool, piece, c.loud);
    ASSERT_TRUE(background_reaches(spool, frames_in_pieces(kPieces - 1)));
    EXPECT_FALSE(fs::exists(paths[0]));  // not before encode_all()
    append_piece(spool, kPieces - 1, c.loud);
    spool.encode_all();
    EXPECT_EQ(names_in(dir / "early" / c.name), kStemFiles);  // no spool, no temporary file
    for (size_t s = 0; s < 4; ++s) {
      EXPECT_EQ(spool.frames_encoded(s), frames_in_pieces(kPieces));
      EXPECT_GT(fs::file_size(paths[s]), 1000u);
      EXPECT_EQ(read_text(paths[s]), read_text(expected[s])) << paths[s].filename();
    }
  }
}

// The background encoders run at idle priority (so they take next to no time from separation),
// no more of them than stems, and are gone with the spool.
TEST(StemSpool, BackgroundEncodersRunAtIdlePriority) {
  TempDir dir;
  ASSERT_EQ(idle_priority_threads(), 0);
  {
    std::vector<fs::path> two_stems = {dir / "stems" / "vocals.mp3", dir / "stems" / "no.mp3"};
    audio::StemSpool spool(two_stems, 2, mp3_encoding(8, Background::idle_priority));
    EXPECT_TRUE(idle_priority_threads_become(2)) << idle_priority_threads();
    std::vector<float> planar(2 * 4410, 0.1f);
    for (size_t s = 0; s < 2; ++s) spool.append(s, planar.data(), 4410);
    spool.encode_all();
    EXPECT_EQ(spool.frames_encoded(0), 4410);
  }
  EXPECT_TRUE(idle_priority_threads_become(0)) << idle_priority_threads();
}

// An encoder that cannot start (FLAC cannot hold float32) fails in the background, which does
// not try again (that would keep a core busy for nothing), then again in encode_all(), which
// reports it; nothing is left in the folder.
TEST(StemSpool, AnEncoderThatCannotStartIsAnErrorAndLeavesNothing) {
  TempDir dir;
  {
    auto encoding = mp3_encoding(2, Background::normal_priority);
    encoding.format.format = audio::Format::flac;
    encoding.format.depth = audio::SampleDepth::float32;
    audio::StemSpool spool(stem_paths(dir / "stems", "flac"), 2, encoding);
    for (int piece = 0; piece < 3; ++piece) append_piece(spool, piece);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // time to fail
    timespec before{}, after{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &before);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &after);
    double cpu = (after.tv_sec - before.tv_sec) + 1e-9 * (after.tv_nsec - before.tv_nsec);
    EXPECT_LT(cpu, 0.1) << "the process kept a core busy while nothing was left to do";
    EXPECT_THROW(spool.encode_all(), audio::AudioError);
    EXPECT_EQ(spool.frames_encoded(0), 0);
  }
  EXPECT_TRUE(fs::is_empty(dir / "stems"));
}

// Stems that received nothing still get their (empty) files.
TEST(StemSpool, EmptyStemsStillGetTheirFiles) {
  TempDir dir;
  audio::StemSpool spool(stem_paths(dir / "stems"), 2,
                         mp3_encoding(2, Background::normal_priority));
  spool.encode_all();
  EXPECT_EQ(names_in(dir / "stems"), kStemFiles);
}

// The stems are what writing each whole stem at once gives (decode_file's reference path:
// prevent_clip, then write_file), channels and pieces in their places.
TEST(StemSpool, StemsAreTheWholeStemsWrittenAtOnce) {
  TempDir dir;
  auto paths = stem_paths(dir / "stems");
  std::vector<audio::Buffer> whole(4);
  {
    audio::StemSpool spool(paths, 2, mp3_encoding(2, Background::normal_priority));
    for (int piece = 0; piece < kPieces; ++piece) append_piece(spool, piece, 5.0f);
    spool.encode_all();
  }
  // The same tones, built whole.
  int64_t frames = frames_in_pieces(kPieces);
  for (size_t s = 0; s < 4; ++s) {
    audio::Buffer& b = whole[s];
    b.sample_rate = 44100;
    b.channels = 2;
    b.frames = frames;
    b.samples.resize(2 * frames);
    for (int c = 0; c < 2; ++c)
      for (int64_t i = 0; i < frames; ++i) {
        float gain = (s == 2 && i >= frames_in_pieces(kPieces - 1)) ? 5.0f : 1.0f;
        b.samples[c * frames + i] = gain * 0.3f * std::sin(0.01f * (s + 1) * i + c);
      }
    audio::prevent_clip(b, audio::ClipMode::rescale);
    auto reference = dir / "reference" / paths[s].filename();
    fs::create_directories(reference.parent_path());
    audio::EncodeOptions mp3;
    mp3.format = audio::Format::mp3;
    audio::write_file(reference.string(), b, mp3);
    EXPECT_EQ(read_text(paths[s]), read_text(reference)) << paths[s].filename();
  }
}

// With every core busy at normal priority, the idle-priority encoders barely run: encode_all()
// takes over (starting a stem again when its background encoder does not let go in time), and
// the files are the same.
TEST(StemSpool, EncodingOnABusyMachineGivesTheSameFiles) {
  TempDir dir;
  auto expected = encode_after_separation(dir / "end", 2, 1.0f);
  std::atomic<bool> busy{true};
  std::vector<std::thread> hogs;
  for (unsigned t = 0; t < std::max(2u, std::thread::hardware_concurrency()); ++t)
    hogs.emplace_back([&] {
      while (busy) {
      }
    });
  auto paths = stem_paths(dir / "busy");
  {
    audio::StemSpool spool(paths, 2, mp3_encoding(2, Background::idle_priority));
    for (int piece = 0; piece < kPieces; ++piece) append_piece(spool, piece);
    spool.encode_all();
  }
  busy = false;
  for (auto& h : hogs) h.join();
  EXPECT_EQ(names_in(dir / "busy"), kStemFiles);
  for (size_t s = 0; s < 4; ++s)
    EXPECT_EQ(read_text(paths[s]), read_text(expected[s])) << paths[s].filename();
}

// Stems may arrive in any order within a piece, but every stem gets the same pieces; and
// encode_all() runs once.
TEST(StemSpool, PiecesMustMatchAndEncodingRunsOnce) {
  TempDir dir;
  audio::StemSpool spool(stem_paths(dir / "stems"), 2, mp3_encoding(2, Background::none));
  std::vector<float> planar(2 * 5000, 0.1f);
  for (size_t s : {2, 0, 3, 1}) spool.append(s, planar.data(), 5000);
  spool.append(1, planar.data(), 3000);
  EXPECT_THROW(spool.append(0, planar.data(), 4000), std::invalid_argument);
  for (size_t s : {0, 2, 3}) spool.append(s, planar.data(), 3000);
  spool.encode_all();
  for (size_t s = 0; s < 4; ++s) EXPECT_EQ(spool.frames_encoded(s), 8000);
  EXPECT_THROW(spool.encode_all(), std::logic_error);
}

// A spool dropped before encode_all() (a cancelled job) stops its encoders and leaves nothing:
// no stem, no temporary file, no spool file.
TEST(StemSpool, DroppedSpoolLeavesNoFile) {
  TempDir dir;
  {
    audio::StemSpool spool(stem_paths(dir / "stems"), 2,
                           mp3_encoding(2, Background::normal_priority));
    for (int piece = 0; piece < 5; ++piece) append_piece(spool, piece);
    ASSERT_TRUE(background_reaches(spool, frames_in_pieces(5)));
  }
  EXPECT_TRUE(fs::is_empty(dir / "stems"));
}

// The spool holds exactly what decode_file returns, windows read back from anywhere, and leaves
// no file behind in its folder (it is unlinked as soon as it is made).
TEST(MixSpool, ReadsBackWhatDecodeFileReturns) {
  TempDir dir, spool_dir;
  auto file = make_tone(dir / "song.mp3", 3.0, 48000, 1, {"-c:a", "libmp3lame", "-b:a", "96k"});
  auto whole = audio::decode_file(file.string(), 44100, 2);
  audio::MixSpool spool(file.string(), 44100, 2, spool_dir.path().string());
  EXPECT_TRUE(fs::is_empty(spool_dir.path()));
  ASSERT_EQ(spool.frames(), whole.frames);
  EXPECT_EQ(spool.channels(), 2);
  for (int64_t offset : {int64_t(0), int64_t(12345), whole.frames - 777}) {
    int64_t n = std::min<int64_t>(40000, whole.frames - offset);
    std::vector<float> window(2 * n);
    spool.read(offset, n, window.data());
    for (int c = 0; c < 2; ++c)
      for (int64_t i = 0; i < n; ++i)
        ASSERT_EQ(window[c * n + i], whole.channel(c)[offset + i]) << c << " " << offset + i;
  }
  std::vector<float> past(2 * 10);
  EXPECT_THROW(spool.read(whole.frames - 5, 10, past.data()), AudioError);
}

TEST(MixSpool, BadFileIsAnErrorAndLeavesNothing) {
  TempDir dir, spool_dir;
  write_text(dir / "notes.mp3", "not audio at all");
  EXPECT_THROW(audio::MixSpool((dir / "notes.mp3").string(), 44100, 2, spool_dir.path().string()),
               AudioError);
  EXPECT_TRUE(fs::is_empty(spool_dir.path()));
}

void expect_audio_error(const fs::path& path, const std::string& words) {
  try {
    audio::decode_file(path.string(), 44100, 2);
    FAIL() << "decoding " << path << " should fail";
  } catch (const AudioError& e) {
    std::string what = e.what();
    EXPECT_NE(what.find(words), std::string::npos) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << "one line: " << what;
  }
}

// Found by audio_fuzz: an MPEG stream whose frames change rate and channel count midway used to
// crash the resampler. Both halves are decoded now.
TEST(Decode, AStreamThatChangesShapeMidwayIsDecodedWhole) {
  TempDir dir;
  std::vector<std::string> raw{"-c:a",           "libmp3lame", "-write_xing", "0",
                               "-id3v2_version", "0",          "-f",          "mp3"};
  auto mono = make_tone(dir / "a.mp3", 1.0, 22050, 1, raw, 300);
  auto stereo = make_tone(dir / "b.mp3", 1.0, 44100, 2, raw, 500);
  write_text(dir / "both.mp3", read_text(mono) + read_text(stereo));
  auto buffer = audio::decode_file((dir / "both.mp3").string(), 44100, 2);
  EXPECT_NEAR(buffer.seconds(), 2.0, 0.2);  // each half adds its encoder delay and padding
}

// Issue 17, item 5: the length limit holds before the song is decoded to disk. A header that
// knows the length is believed at once; a stream without one (raw MPEG frames, no Xing header)
// is stopped as soon as the decoded audio passes the limit.
// Decodes `path` with a length limit: the frames the sink saw, and TooLong's message ("" when
// the song passed).
struct LimitedDecode {
  int64_t delivered = 0;
  std::string refusal;
};
LimitedDecode decode_with_limit(const fs::path& path, double max_seconds) {
  LimitedDecode out;
  try {
    audio::decode_stream(
        path.string(), 44100, 2, [&](const float* const*, int64_t n) { out.delivered += n; },
        max_seconds);
  } catch (const audio::TooLong& e) {
    out.refusal = e.what();
  }
  return out;
}

TEST(Decode, ALongSongIsRefusedFromItsHeaderBeforeDecoding) {
  TempDir dir;
  auto decoded = decode_with_limit(make_tone(dir / "long.wav", 30, 44100, 2), 10);
  ASSERT_FALSE(decoded.refusal.empty()) << "a 30 s song passed a 10 s limit";
  EXPECT_NE(decoded.refusal.find("the song lasts 30 s"), std::string::npos) << decoded.refusal;
  EXPECT_EQ(decoded.delivered, 0);
}

TEST(Decode, ALongStreamWithoutAHeaderStopsAtTheLimit) {
  TempDir dir;
  auto raw = make_tone(dir / "long.mp3", 30, 44100, 2,
                       {"-c:a", "libmp3lame", "-write_xing", "0", "-id3v2_version", "0"});
  auto decoded = decode_with_limit(raw, 10);
  ASSERT_FALSE(decoded.refusal.empty()) << "a 30 s song passed a 10 s limit";
  EXPECT_NE(decoded.refusal.find("more than 10 s"), std::string::npos) << decoded.refusal;
  EXPECT_GT(decoded.delivered, 10 * 44100);
  EXPECT_LT(decoded.delivered, 11 * 44100);  // stopped there, not after decoding all 30 s
  // Within the limit, the same stream decodes whole.
  EXPECT_NEAR(audio::decode_stream(
                  raw.string(), 44100, 2, [](const float* const*, int64_t) {}, 40) /
                  44100.0,
              30, 0.2);
}

// Found by audio_fuzz: a few kilobytes of WAV claiming 1 Hz, with no length in its header,
// resampled into hours of audio in one block (gigabytes). Rates no music has are refused before
// anything is resampled.
TEST(Decode, AnAbsurdlyLowSampleRateIsRefused) {
  TempDir dir;
  const uint32_t samples = 4000, channels = 2, rate = 1;
  std::string wav = "RIFF";
  auto u32 = [&](uint32_t v) { wav.append(reinterpret_cast<const char*>(&v), 4); };
  auto u16 = [&](uint16_t v) { wav.append(reinterpret_cast<const char*>(&v), 2); };
  u32(0xFFFFFFFF);  // lengths unknown, as a stream writes them: no duration to refuse early
  wav += "WAVEfmt ";
  u32(16), u16(1), u16(channels), u32(rate), u32(rate * channels * 2), u16(channels * 2), u16(16);
  wav += "data";
  u32(0xFFFFFFFF);
  for (uint32_t i = 0; i < samples * channels; ++i) u16(static_cast<uint16_t>(i * 97));
  write_text(dir / "1hz.wav", wav);
  int64_t delivered = 0;
  std::string refusal;
  try {
    audio::decode_stream((dir / "1hz.wav").string(), 44100, 2,
                         [&](const float* const*, int64_t n) { delivered += n; }, 60);
  } catch (const audio::AudioError& e) {
    refusal = e.what();
  }
  EXPECT_NE(refusal.find("runs at 1 Hz"), std::string::npos) << refusal;
  EXPECT_EQ(delivered, 0);
}

TEST(Decode, RejectsMissingFile) {
  TempDir dir;
  expect_audio_error(dir / "nope.mp3", "no such file");
}

TEST(Decode, RejectsEmptyFile) {
  TempDir dir;
  write_text(dir / "empty.mp3", "");
  expect_audio_error(dir / "empty.mp3", "is empty");
}

TEST(Decode, RejectsTextNamedMp3) {
  TempDir dir;
  std::string text;
  for (int i = 0; i < 200; ++i)
    text += "this is certainly not an mp3 file, line " + std::to_string(i) + "\n";
  write_text(dir / "notes.mp3", text);
  expect_audio_error(dir / "notes.mp3", "notes.mp3");
}

TEST(Decode, RejectsTruncatedMp3) {
  TempDir dir;
  auto file = make_tone(dir / "full.mp3", 4.0, 44100, 2, {"-c:a", "libmp3lame", "-b:a", "128k"});
  std::string bytes = read_text(file);
  write_text(dir / "cut.mp3", bytes.substr(0, bytes.size() / 2));
  expect_audio_error(dir / "cut.mp3", "truncated");
}

TEST(Decode, RejectsFolder) {
  TempDir dir;
  expect_audio_error(dir.path(), "folder");
}

class EncodeRoundTrip : public testing::TestWithParam<
                            std::tuple<audio::Format, audio::SampleDepth, double, std::string>> {};

TEST_P(EncodeRoundTrip, DecodesBackWithinTheFormatsPrecision) {
  auto [format, depth, tolerance, codec] = GetParam();
  TempDir dir;
  auto in = sine_buffer(1.5);
  audio::EncodeOptions o;
  o.format = format;
  o.depth = depth;
  auto path = dir / ("out." + audio::extension(format));
  audio::write_file(path.string(), in, o);
  EXPECT_NE(probe(path).find("codec_name=" + codec), std::string::npos) << probe(path);
  auto out = audio::decode_file(path.string(), 44100, 2);
  ASSERT_EQ(out.frames, in.frames);
  float worst = 0;
  for (size_t i = 0; i < in.samples.size(); ++i)
    worst = std::max(worst, std::fabs(in.samples[i] - out.samples[i]));
  EXPECT_LE(worst, tolerance);
  EXPECT_GT(rms(out.channel(0), out.frames), 0.3);
}

INSTANTIATE_TEST_SUITE_P(
    Lossless, EncodeRoundTrip,
    testing::Values(
        std::make_tuple(audio::Format::wav, audio::SampleDepth::int16, 1.0 / 16000, "pcm_s16le"),
        std::make_tuple(audio::Format::wav, audio::SampleDepth::int24, 1.0 / 4e6, "pcm_s24le"),
        std::make_tuple(audio::Format::wav, audio::SampleDepth::float32, 0.0, "pcm_f32le"),
        std::make_tuple(audio::Format::flac, audio::SampleDepth::int16, 1.0 / 16000, "flac"),
        std::make_tuple(audio::Format::flac, audio::SampleDepth::int24, 1.0 / 4e6, "flac")));

TEST(Encode, Mp3HasTheAskedBitrateAndDuration) {
  TempDir dir;
  auto in = sine_buffer(3.0);
  audio::EncodeOptions o;
  o.format = audio::Format::mp3;
  o.mp3_bitrate_kbps = 128;
  auto path = dir / "out.mp3";
  audio::write_file(path.string(), in, o);
  std::string info = probe(path);
  EXPECT_NE(info.find("codec_name=mp3"), std::string::npos) << info;
  EXPECT_NE(info.find("bit_rate=128000"), std::string::npos) << info;
  auto out = audio::decode_file(path.string(), 44100, 2);
  EXPECT_NEAR(out.seconds(), 3.0, 0.06);
  EXPECT_NEAR(tone_frequency(out.channel(0) + 20000, 44100, 44100), 440, 3);
}

TEST(Encode, StreamedWritesEqualOneWrite) {
  TempDir dir;
  auto in = sine_buffer(1.0);
  audio::EncodeOptions o;
  o.format = audio::Format::flac;
  {
    audio::Encoder e((dir / "pieces.flac").string(), 44100, 2, o);
    for (int64_t at = 0; at < in.frames; at += 1000) {
      int64_t n = std::min<int64_t>(1000, in.frames - at);
      e.write(in.samples.data() + at, n, in.frames);
    }
    e.finish();
  }
  audio::write_file((dir / "whole.flac").string(), in, o);
  auto a = audio::decode_file((dir / "pieces.flac").string(), 44100, 2);
  auto b = audio::decode_file((dir / "whole.flac").string(), 44100, 2);
  EXPECT_EQ(a.samples, b.samples);
}

TEST(Encode, AbandonedWriterLeavesNoFile) {
  TempDir dir;
  auto in = sine_buffer(0.5);
  {
    audio::Encoder e((dir / "stem.wav").string(), 44100, 2, {});
    e.write(in.samples.data(), in.frames, in.frames);
  }  // destroyed without finish(): as if the job failed half-way
  EXPECT_TRUE(fs::is_empty(dir.path()));
}

TEST(Encode, UnwritableFolderIsAnError) {
  TempDir dir;
  write_text(dir / "file", "x");
  EXPECT_THROW(audio::write_file((dir / "file" / "stem.wav").string(), sine_buffer(0.1), {}),
               AudioError);
}

TEST(Clip, RescaleDividesByPeakTimes1Point01) {
  audio::Buffer b(44100, 1, 3);
  b.samples = {0.5f, -2.0f, 1.0f};
  audio::prevent_clip(b, audio::ClipMode::rescale);
  EXPECT_FLOAT_EQ(b.samples[1], -2.0f / 2.02f);
  EXPECT_FLOAT_EQ(b.samples[0], 0.5f / 2.02f);
}

TEST(Clip, RescaleLeavesQuietAudio) {
  audio::Buffer b(44100, 1, 2);
  b.samples = {0.5f, -0.9f};
  audio::prevent_clip(b, audio::ClipMode::rescale);
  EXPECT_EQ(b.samples, (std::vector<float>{0.5f, -0.9f}));
}

TEST(Clip, ClampLimitsToPoint99) {
  audio::Buffer b(44100, 1, 3);
  b.samples = {1.5f, -3.0f, 0.2f};
  audio::prevent_clip(b, audio::ClipMode::clamp);
  EXPECT_EQ(b.samples, (std::vector<float>{0.99f, -0.99f, 0.2f}));
  EXPECT_THROW(audio::parse_clip_mode("tanh-ish"), AudioError);
}

}  // namespace
}  // namespace msaas::test

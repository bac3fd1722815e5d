// The engine against the official Demucs: every case in tests/data/parity/manifest.json was
// computed by tools/make_parity_data.py with the official code; each stem must reach 60 dB
// signal-to-error.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <latch>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "audio/decode.h"
#include "msaas/engine.h"
#include "support.h"

namespace msaas::test {
namespace {

const double kMinSnrDb = 60.0;

nlohmann::json manifest() {
  return nlohmann::json::parse(read_text(test_data() / "parity" / "manifest.json"));
}

std::vector<std::string> engine_case_ids() {
  std::vector<std::string> ids;
  auto m = manifest();
  for (const auto& c : m["engine"]) ids.push_back(c["id"]);
  return ids;
}

// Each source's signal-to-error over `frames` frames from `start` of `out` ([S, C, out_frames])
// against `ref` ([S, C, frames]).
std::vector<double> stem_snrs(const std::vector<float>& out, const float* ref, int64_t sources,
                              int64_t channels, int64_t frames, int64_t out_frames, int64_t start) {
  std::vector<double> snrs;
  for (int64_t s = 0; s < sources; ++s) {
    std::vector<float> mine, theirs;
    for (int64_t c = 0; c < channels; ++c) {
      const float* a = out.data() + (s * channels + c) * out_frames + start;
      const float* b = ref + (s * channels + c) * frames;
      mine.insert(mine.end(), a, a + frames);
      theirs.insert(theirs.end(), b, b + frames);
    }
    snrs.push_back(snr_db(mine.data(), theirs.data(), mine.size()));
  }
  return snrs;
}

void expect_stems_match(const std::vector<float>& out, const float* ref, int64_t sources,
                        int64_t channels, int64_t frames, int64_t out_frames, int64_t start) {
  auto snrs = stem_snrs(out, ref, sources, channels, frames, out_frames, start);
  for (int64_t s = 0; s < sources; ++s) {
    EXPECT_GE(snrs[s], kMinSnrDb) << "source " << s;
    testing::Test::RecordProperty("snr_source_" + std::to_string(s), std::to_string(snrs[s]));
  }
}

class OfficialParity : public testing::TestWithParam<std::string> {};

TEST_P(OfficialParity, MatchesTheOfficialCode) {
  nlohmann::json c;
  auto m = manifest();
  for (const auto& each : m["engine"])
    if (each["id"] == GetParam()) c = each;
  fs::path dir = test_data() / "parity";
  auto sep = Separator::from_repo(c["model"], (dir / c["repo"].get<std::string>()).string());
  auto input = read_f32(dir / (GetParam() + ".in.f32"));
  auto reference = read_f32(dir / (GetParam() + ".out.f32"));
  int64_t frames = c["frames"], sources = c["sources"], channels = c["channels"];
  ASSERT_EQ(input.size(), size_t(channels * frames));
  ASSERT_EQ(reference.size(), size_t(sources * channels * frames));
  SeparationOptions o;
  o.shifts = c["shifts"];
  o.overlap = c["overlap"];
  o.shift_offsets = c["offsets"].get<std::vector<int64_t>>();
  if (c.contains("segment")) o.segment = c["segment"].get<double>();
  o.split = c.value("split", true);
  o.threads = 2;
  int64_t calls = 0, last_total = 0;
  auto out = sep->separate(input.data(), frames, o, [&](const Progress& p) {
    ++calls;
    last_total = p.total;
    EXPECT_EQ(p.done, calls);
    return true;
  });
  ASSERT_EQ(out.size(), reference.size());
  EXPECT_EQ(calls, last_total) << "progress reaches its total exactly";
  expect_stems_match(out, reference.data(), sources, channels, frames, frames, 0);
}

INSTANTIATE_TEST_SUITE_P(Case, OfficialParity, testing::ValuesIn(engine_case_ids()));

// The tiny transformer model on an input of several segments, with a fixed shift: what the
// engine tests below separate.
struct TinyCase {
  std::unique_ptr<Separator> sep =
      Separator::from_repo("tinyht1", (test_data() / "parity" / "models").string());
  std::vector<float> input = read_f32(test_data() / "parity" / "several_segments.in.f32");
  int64_t frames = static_cast<int64_t>(input.size() / 2);
  SeparationOptions exact = [] {
    SeparationOptions o;
    o.shift_offsets = {1234};
    return o;
  }();
  SeparationOptions fast = [this] {
    SeparationOptions o = exact;
    o.fast = true;
    return o;
  }();
  std::vector<float> separate(const SeparationOptions& o) const {
    return sep->separate(input.data(), frames, o);
  }
};

TEST(EngineStream, DeliversStemsPieceByPieceAndMatchesTheWholeBuffer) {
  TinyCase tiny;
  const auto& input = tiny.input;
  int64_t frames = tiny.frames;
  auto& sep = tiny.sep;
  const auto& o = tiny.exact;
  auto whole = tiny.separate(o);
  std::vector<int64_t> pieces;
  int64_t reads = 0, biggest_read = 0;
  std::vector<float> streamed(whole.size());
  int64_t done = 0;
  sep->separate_stream(
      [&](int64_t offset, int64_t n, float* out) {
        ASSERT_GE(offset, 0);
        ASSERT_LE(offset + n, frames);
        ++reads;
        biggest_read = std::max(biggest_read, n);
        for (int c = 0; c < 2; ++c) std::copy_n(input.data() + c * frames + offset, n, out + c * n);
      },
      frames, o,
      [&](const float* stems, int64_t n) {
        pieces.push_back(n);
        for (int row = 0; row < 8; ++row)
          std::copy_n(stems + row * n, n, streamed.data() + row * frames + done);
        done += n;
      });
  EXPECT_EQ(done, frames);
  EXPECT_GE(pieces.size(), 3u) << "stems leave as segments finish, not at the end";
  // One statistics pass in blocks of at most 65536 frames, then one window per segment.
  EXPECT_LE(biggest_read, 1 << 16);
  EXPECT_GE(reads, 1 + static_cast<int64_t>(pieces.size()));
  EXPECT_EQ(streamed, whole);
}

// Fast mode computes in bfloat16: close to the exact stems, but not the same numbers (so it is
// really on), and the exact mode afterwards is untouched by it.
TEST(EngineFastMode, StaysCloseToTheExactStems) {
  TinyCase tiny;
  auto reference = tiny.separate(tiny.exact);
  auto quick = tiny.separate(tiny.fast);
  double snr = snr_db(quick.data(), reference.data(), reference.size());
  EXPECT_GT(snr, 20.0);
  EXPECT_LT(snr, 120.0);
  EXPECT_EQ(tiny.separate(tiny.exact), reference);
}

// engine.h's thread-safety promise: one loaded Separator, separating in several threads at once
// (one of them in fast mode, which is per thread), gives each the stems it gives alone.
TEST(EngineThreads, OneSeparatorServesSeveralThreadsAtOnce) {
  TinyCase tiny;  // loaded and not used yet: its first separations are the ones at once
  std::vector<std::vector<float>> together(4);
  std::latch start(static_cast<std::ptrdiff_t>(together.size()));
  std::atomic<int> running{0}, most{0};
  std::vector<std::thread> threads;
  for (size_t i = 0; i < together.size(); ++i)
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      int now = ++running;
      for (int seen = most; now > seen && !most.compare_exchange_weak(seen, now);) {
      }
      together[i] = tiny.separate(i == 3 ? tiny.fast : tiny.exact);
      --running;
    });
  for (auto& t : threads) t.join();
  EXPECT_GE(most, 2) << "the separations did not overlap";
  auto alone = tiny.separate(tiny.exact);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(together[i], alone) << "thread " << i;
  EXPECT_EQ(together[3], tiny.separate(tiny.fast));
}

// The version macros come from the file VERSION.
TEST(EngineVersion, MacrosMatchTheVersionFile) {
  std::string version;
  std::ifstream(test_data() / ".." / ".." / "VERSION") >> version;
  EXPECT_EQ(version, MSAAS_VERSION);
  EXPECT_EQ(std::to_string(MSAAS_VERSION_MAJOR) + "." + std::to_string(MSAAS_VERSION_MINOR) + "." +
                std::to_string(MSAAS_VERSION_PATCH),
            MSAAS_VERSION);
}

TEST(EngineParity, CancellationStopsTheSeparation) {
  auto sep = Separator::from_repo("tinyht1", (test_data() / "parity" / "models").string());
  std::vector<float> mix(2 * 8000 * 3, 0.1f);
  SeparationOptions o;
  o.shifts = 0;
  int calls = 0;
  EXPECT_THROW(sep->separate(mix.data(), 8000 * 3, o, [&](const Progress&) { return ++calls < 2; }),
               Cancelled);
  EXPECT_EQ(calls, 2);
}

TEST(EngineParity, RejectsTooLongSegmentForTransformers) {
  auto sep = Separator::from_repo("tinyht1", (test_data() / "parity" / "models").string());
  std::vector<float> mix(2 * 8000, 0.1f);
  SeparationOptions o;
  o.segment = 2.0;
  EXPECT_THROW(sep->separate(mix.data(), 8000, o), ModelError);
}

// The build links the OpenMP OpenBLAS (CMakeLists.txt, MSAAS_BLAS_DIR): one thread pool shared
// with libtorch. Debian's default OpenBLAS runs its own pthreads and costs ~1.5x in speed.
TEST(EngineCompute, OpenBlasSharesLibtorchsThreads) {
  auto sep = Separator::from_repo("tinyht1", (test_data() / "parity" / "models").string());
  std::vector<float> mix(2 * 8000, 0.1f);
  SeparationOptions o;
  o.threads = 2;
  sep->separate(mix.data(), 8000, o);
  std::string summary = compute_summary();
  EXPECT_NE(summary.find("2 threads"), std::string::npos) << summary;
  EXPECT_NE(summary.find("shares libtorch's OpenMP threads"), std::string::npos) << summary;
}

// The summary names OpenBLAS's kernels: an OPENBLAS_CORETYPE in the environment (some machines
// set one for every program) can hold a CPU with AVX-512 to AVX2 kernels, and this is how a
// benchmark or a worker's log shows it. An OpenBLAS built for every CPU (DYNAMIC_ARCH, as
// Debian's) takes the variable's core when the CPU can run it; checked for Haswell (AVX2), the
// value some machines set.
TEST(EngineCompute, SummaryNamesOpenBlasKernels) {
  std::string summary = compute_summary();
  std::smatch m;
  ASSERT_TRUE(std::regex_search(summary, m, std::regex("OpenBLAS [0-9.]+ (\\S+) kernels")))
      << summary;
  const char* forced = std::getenv("OPENBLAS_CORETYPE");
  auto config = reinterpret_cast<const char* (*)()>(dlsym(RTLD_DEFAULT, "openblas_get_config"));
  bool dynamic = config && std::string(config()).find("DYNAMIC_ARCH") != std::string::npos;
  if (forced && dynamic && std::string(forced) == "Haswell" && __builtin_cpu_supports("avx2")) {
    EXPECT_EQ(m[1], "Haswell") << summary;
  }
}

// Why a real-model case of the manifest cannot run here ("" when it can).
std::string real_case_missing(const nlohmann::json& m, const std::string& key) {
  if (!m.contains(key)) return "no " + key + " case in the manifest";
  if (real_htdemucs().empty()) return "no real htdemucs in " + shared_models().string();
  return "";
}

// A real-model case's model and its song, decoded (and resampled) at the model's rate.
struct RealCase {
  explicit RealCase(const nlohmann::json& c)
      : sep(Separator::from_repo(c["model"], shared_models().string())),
        mix(audio::decode_file((dir / c["track"].get<std::string>()).string(), 44100, 2)) {}
  fs::path dir = test_data() / "parity";
  std::unique_ptr<Separator> sep;
  audio::Buffer mix;

  // Separated with no shift, every stem matches the official excerpt in `reference`.
  void expect_excerpt_matches(const nlohmann::json& c, const std::string& reference_file) {
    SeparationOptions o;
    o.shifts = 0;
    o.threads = 2;
    auto out = sep->separate(mix.samples.data(), mix.frames, o);
    auto reference = read_f32(dir / reference_file);
    int64_t frames = c["excerpt_frames"];
    ASSERT_EQ(reference.size(), size_t(4 * 2 * frames));
    expect_stems_match(out, reference.data(), 4, 2, frames, mix.frames, c["excerpt_start"]);
  }
};

TEST(EngineParity, RealHtdemucsMatchesTheOfficialCode) {
  auto m = manifest();
  if (auto why = real_case_missing(m, "real"); !why.empty()) GTEST_SKIP() << why;
  RealCase real(m["real"]);
  real.expect_excerpt_matches(m["real"], "real_excerpt.out.f32");
}

// The real htdemucs over 21 s (four overlapping segments: the overlap-add with the real
// weights), with no shift and with one fixed shift; the official output is kept in windows
// around every segment boundary. Fast mode's distance to the official stems is reported.
class RealHtdemucsLong : public testing::TestWithParam<int> {};

TEST_P(RealHtdemucsLong, MatchesTheOfficialCodeAcrossSegments) {
  auto m = manifest();
  if (auto why = real_case_missing(m, "real_long"); !why.empty()) GTEST_SKIP() << why;
  auto c = m["real_long"][GetParam()];
  RealCase real(c);
  auto& [dir, sep, mix] = real;
  ASSERT_EQ(mix.frames, c["frames"].get<int64_t>());
  ASSERT_GE(mix.seconds(), 20.0);
  auto reference = read_f32(dir / c["reference"].get<std::string>());
  auto windows = c["windows"].get<std::vector<int64_t>>();
  int64_t window = c["window_frames"];
  ASSERT_EQ(reference.size(), windows.size() * 4 * 2 * window);
  SeparationOptions o;
  o.shifts = c["shifts"];
  o.shift_offsets = c["offsets"].get<std::vector<int64_t>>();
  o.overlap = c["overlap"];
  o.threads = 2;
  for (bool fast : {false, true}) {
    o.fast = fast;
    auto out = sep->separate(mix.samples.data(), mix.frames, o);
    // Per stem, over all windows: one quiet window of a quiet stem says little on its own.
    std::vector<std::vector<float>> mine(4), theirs(4);
    for (size_t w = 0; w < windows.size(); ++w) {
      const float* ref = reference.data() + w * 4 * 2 * window;
      for (int s = 0; s < 4; ++s)
        for (int ch = 0; ch < 2; ++ch) {
          const float* a = out.data() + (s * 2 + ch) * mix.frames + windows[w];
          const float* b = ref + (s * 2 + ch) * window;
          mine[s].insert(mine[s].end(), a, a + window);
          theirs[s].insert(theirs[s].end(), b, b + window);
        }
      if (!fast) {  // the exact mode matches in every window
        auto snrs = stem_snrs(out, ref, 4, 2, window, mix.frames, windows[w]);
        for (size_t s = 0; s < snrs.size(); ++s)
          EXPECT_GE(snrs[s], kMinSnrDb) << "window at frame " << windows[w] << ", source " << s;
      }
    }
    double lowest = 200;
    std::string each;
    for (int s = 0; s < 4; ++s) {
      double snr = snr_db(mine[s].data(), theirs[s].data(), mine[s].size());
      each += (s ? ", " : "") + std::to_string(snr).substr(0, std::to_string(snr).find('.') + 2);
      lowest = std::min(lowest, snr);
    }
    // bfloat16 is not the official arithmetic: fast mode is reported and held to a loose floor
    // (its quality cost is measured as SDR on real songs, docs/quality.md); the quiet stems of
    // this synthetic mixture (its "vocals" is a few percent of the mix) are the furthest, at
    // 15-30 dB, while broken arithmetic gives 0 dB or less.
    if (fast) {
      EXPECT_GE(lowest, 10.0) << "fast mode drifted far from the official stems";
    }
    std::string key = fast ? "fast_lowest_snr_db" : "exact_lowest_snr_db";
    testing::Test::RecordProperty(key, std::to_string(lowest));
    std::printf("real htdemucs, 21 s, shifts %d, %s mode: stems' SNR %s dB\n", o.shifts,
                fast ? "fast" : "exact", each.c_str());
  }
}

INSTANTIATE_TEST_SUITE_P(Shifts, RealHtdemucsLong, testing::Values(0, 1),
                         [](const auto& test) { return "case" + std::to_string(test.param); });

// Songs at 48 kHz and 22.05 kHz: decoding resamples them as the official code does (julius'
// resample_frac), so the stems are the official ones at these rates too.
class RealHtdemucsOtherRates : public testing::TestWithParam<int> {};

TEST_P(RealHtdemucsOtherRates, MatchesTheOfficialCode) {
  auto m = manifest();
  if (auto why = real_case_missing(m, "other_rates"); !why.empty()) GTEST_SKIP() << why;
  auto c = m["other_rates"][GetParam()];
  RealCase real(c);
  ASSERT_EQ(real.mix.frames, c["frames"].get<int64_t>()) << "floor(44100 * length / rate) frames";
  real.expect_excerpt_matches(c, c["reference"]);
}

INSTANTIATE_TEST_SUITE_P(Rates, RealHtdemucsOtherRates, testing::Values(0, 1),
                         [](const auto& test) { return test.param == 0 ? "Hz48000" : "Hz22050"; });

}  // namespace
}  // namespace msaas::test

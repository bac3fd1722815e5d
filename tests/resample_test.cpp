// The resampler against julius' resample_frac (what the official Demucs resamples songs with):
// every case in the manifest's "resample" list was computed by tools/make_parity_data.py.
#include "audio/resample.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>

#include "audio/decode.h"
#include "audio/encode.h"
#include "support.h"

namespace msaas::test {
namespace {

using audio::SincResampler;

// Planar [C][T] in, planar [C][T'] out, fed `block` frames at a time (0: all at once).
std::vector<std::vector<float>> resample(const std::vector<float>& in, int channels, int from,
                                         int to, int64_t block = 0) {
  int64_t frames = static_cast<int64_t>(in.size()) / channels;
  std::vector<std::vector<float>> out(channels);
  SincResampler r(from, to, channels);
  auto emit = [&](const float* const* planes, int64_t n) {
    for (int c = 0; c < channels; ++c) out[c].insert(out[c].end(), planes[c], planes[c] + n);
  };
  if (block <= 0) block = frames;
  for (int64_t at = 0; at < frames; at += block) {
    int64_t n = std::min(block, frames - at);
    std::vector<const float*> planes(channels);
    for (int c = 0; c < channels; ++c) planes[c] = in.data() + c * frames + at;
    r.push(planes.data(), n, emit);
  }
  r.finish(emit);
  return out;
}

nlohmann::json resample_cases() {
  return nlohmann::json::parse(read_text(test_data() / "parity" / "manifest.json"))["resample"];
}

TEST(SincResampler, MatchesJuliusResampleFrac) {
  auto cases = resample_cases();
  ASSERT_FALSE(cases.empty());
  for (const auto& c : cases) {
    std::string id = c["id"];
    int channels = c["channels"];
    auto in = read_f32(test_data() / "parity" / (id + ".in.f32"));
    auto ref = read_f32(test_data() / "parity" / (id + ".out.f32"));
    int64_t out_frames = c["out_frames"];
    auto out = resample(in, channels, c["from_rate"], c["to_rate"]);
    for (int ch = 0; ch < channels; ++ch) {
      ASSERT_EQ(static_cast<int64_t>(out[ch].size()), out_frames) << id;
      // float32 kernels on both sides: the difference is rounding, far below the stems' 60 dB
      double snr = snr_db(out[ch].data(), ref.data() + ch * out_frames, out_frames);
      EXPECT_GE(snr, 100.0) << id << " channel " << ch;
    }
  }
}

// The whole decoding path: a 48 kHz float WAV holding julius' input decodes to julius' output.
TEST(SincResampler, DecodingA48kHzFileGivesJuliusOutput) {
  int checked = 0;
  for (const auto& c : resample_cases()) {
    if (c["from_rate"] != 48000) continue;
    std::string id = c["id"];
    int64_t frames = c["frames"], out_frames = c["out_frames"];
    auto in = read_f32(test_data() / "parity" / (id + ".in.f32"));
    auto ref = read_f32(test_data() / "parity" / (id + ".out.f32"));
    audio::Buffer song(48000, 2, frames);
    std::copy(in.begin(), in.end(), song.samples.begin());
    TempDir dir;
    audio::EncodeOptions o;
    o.depth = audio::SampleDepth::float32;
    audio::write_file((dir / "song.wav").string(), song, o);
    auto decoded = audio::decode_file((dir / "song.wav").string(), 44100, 2);
    ASSERT_EQ(decoded.frames, out_frames);
    EXPECT_GE(snr_db(decoded.samples.data(), ref.data(), ref.size()), 100.0) << id;
    ++checked;
  }
  EXPECT_GE(checked, 2) << "a whole number of blocks and a length ending mid-block";
}

// julius rounds new * length / old to float32 before the floor: past 2^22 output frames that
// can add a frame (here 4195076.8125 becomes 4195077; torch.as_tensor(147 * 4566070 / 160)).
TEST(SincResampler, LengthIsJuliusFloat32Rounding) {
  std::vector<float> in(4566070, 0.1f);
  int64_t frames = 0;
  SincResampler r(48000, 44100, 1);
  auto emit = [&](const float* const*, int64_t n) { frames += n; };
  const float* plane = in.data();
  for (int64_t at = 0; at < static_cast<int64_t>(in.size()); at += 65536) {
    plane = in.data() + at;
    r.push(&plane, std::min<int64_t>(65536, in.size() - at), emit);
  }
  r.finish(emit);
  EXPECT_EQ(frames, 4195077);
}

// A song arrives in decoder-sized blocks: any split gives exactly the one-shot output.
TEST(SincResampler, BlocksOfAnySizeGiveTheSameOutput) {
  std::mt19937 rng(5);
  std::normal_distribution<float> noise(0.0f, 0.3f);
  std::vector<float> in(2 * 20000);
  for (float& x : in) x = noise(rng);
  for (int from : {48000, 22050, 96000, 8000}) {
    auto whole = resample(in, 2, from, 44100);
    for (int64_t block : {1, 7, 1152, 4096})
      EXPECT_EQ(resample(in, 2, from, 44100, block), whole) << from << " Hz in blocks of " << block;
  }
}

// julius scales every kernel to sum 1 and pads with the end frames: a constant stays constant,
// to its very ends.
TEST(SincResampler, ConstantStaysConstant) {
  std::vector<float> in(3000, 0.25f);
  auto out = resample(in, 1, 48000, 44100);
  ASSERT_EQ(out[0].size(), 3000u * 147 / 160);
  for (float y : out[0]) ASSERT_NEAR(y, 0.25f, 1e-6f);
}

TEST(SincResampler, KnowsWhichRatePairsItCanServe) {
  for (int from : {8000, 11025, 16000, 22050, 24000, 32000, 48000, 88200, 96000, 176400, 192000})
    EXPECT_TRUE(SincResampler::practical(from, 44100)) << from;
  EXPECT_FALSE(SincResampler::practical(44099, 44100));  // 44100 kernels of 53 taps
  EXPECT_THROW(SincResampler(44099, 44100, 2), std::invalid_argument);
}

TEST(SincResampler, NothingInNothingOut) {
  std::vector<float> none;
  EXPECT_TRUE(resample(none, 2, 48000, 44100)[0].empty());
}

}  // namespace
}  // namespace msaas::test

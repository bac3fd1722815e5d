// tests/audio_sniff_test.cpp: the API's door check recognises what real encoders write (ffmpeg)
// and refuses what is plainly not audio.
#include "api/audio_sniff.h"

#include "support.h"

namespace msaas::test {
namespace {

TEST(AudioSniff, RecognisesRealEncodersOutput) {
  TempDir dir;
  const std::vector<std::pair<std::string, std::vector<std::string>>> formats = {
      {"a.mp3", {"-c:a", "libmp3lame"}},
      {"b.mp3", {"-c:a", "libmp3lame", "-write_xing", "0", "-id3v2_version", "0"}},
      {"a.wav", {}},
      {"a.flac", {}},
      {"a.ogg", {"-c:a", "libvorbis"}},
      {"a.opus", {"-c:a", "libopus"}},
      {"a.m4a", {"-c:a", "aac"}},
      {"a.aac", {"-c:a", "aac", "-f", "adts"}},
      {"a.aiff", {}},
      {"a.webm", {"-c:a", "libopus"}},
      {"a.wma", {"-c:a", "wmav2"}},
  };
  for (const auto& [name, codec] : formats) {
    auto path = make_tone(dir / name, 1, 44100, 2, codec);
    EXPECT_TRUE(api::looks_like_audio(path)) << name;
  }
}

TEST(AudioSniff, FindsFilesCutShort) {
  TempDir dir;
  auto wav = make_tone(dir / "a.wav", 2, 44100, 2);
  auto mp3 = make_tone(dir / "a.mp3", 4, 44100, 2, {"-c:a", "libmp3lame"});  // with Xing/Info
  for (const auto& whole : {wav, mp3}) {
    EXPECT_FALSE(api::truncation(whole)) << whole;
    std::string bytes = read_text(whole);
    write_text(dir / ("cut" + whole.extension().string()), bytes.substr(0, bytes.size() / 2));
    auto why = api::truncation(dir / ("cut" + whole.extension().string()));
    ASSERT_TRUE(why) << whole;
    EXPECT_NE(why->find("cut short"), std::string::npos);
  }
  // Formats that do not announce their length pass (the worker's decoder judges them).
  auto ogg = make_tone(dir / "a.ogg", 2, 44100, 2, {"-c:a", "libvorbis"});
  write_text(dir / "cut.ogg", read_text(ogg).substr(0, 3000));
  EXPECT_FALSE(api::truncation(dir / "cut.ogg"));
}

TEST(AudioSniff, RefusesWhatIsNotAudio) {
  using namespace std::string_literals;
  for (std::string head :
       {""s, "hello, this is text"s, "\x89PNG\r\n\x1a\n"s, "%PDF-1.4"s, "PK\x03\x04"s,
        "<!doctype html>"s, "{\"mp3\": 1}"s, std::string(100, '\0'), "\xff\xd8\xff\xe0"s})
    EXPECT_FALSE(api::looks_like_audio(std::string_view(head))) << head;
}

}  // namespace
}  // namespace msaas::test

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

TEST(AudioSniff, RefusesWhatIsNotAudio) {
  using namespace std::string_literals;
  for (std::string head :
       {""s, "hello, this is text"s, "\x89PNG\r\n\x1a\n"s, "%PDF-1.4"s, "PK\x03\x04"s,
        "<!doctype html>"s, "{\"mp3\": 1}"s, std::string(100, '\0'), "\xff\xd8\xff\xe0"s})
    EXPECT_FALSE(api::looks_like_audio(std::string_view(head))) << head;
}

}  // namespace
}  // namespace msaas::test

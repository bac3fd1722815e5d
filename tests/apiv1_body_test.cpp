// tests/apiv1_body_test.cpp: the original API's JSON body read as it arrives
// (api/apiv1_body.h): the song decoded into a sink whatever the pieces the body comes in, the
// other members kept as written, and every malformed body refused with a reason.
#include "api/apiv1_body.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>

#include "api/base64.h"
#include "support.h"

namespace msaas::api {
namespace {

struct Read {
  bool ok = false;
  std::string song, members, error;
  int status = 0;
  bool too_large = false;
};

// Feeds `body` in pieces of `piece` bytes; the song may hold at most `limit` bytes.
Read read_body(const std::string& body, size_t piece, size_t limit = 1 << 20) {
  Read r;
  Apiv1BodyReader reader([&](const char* data, size_t n) {
    if (r.song.size() + n > limit) return false;
    r.song.append(data, n);
    return true;
  });
  bool going = true;
  for (size_t at = 0; going && at < body.size(); at += piece)
    going = reader.feed(body.data() + at, std::min(piece, body.size() - at));
  r.ok = going && reader.finish();
  r.members = reader.other_members();
  r.error = reader.error();
  r.status = reader.error_status();
  r.too_large = reader.song_too_large();
  return r;
}

std::string random_bytes(size_t n) {
  std::mt19937 pick(7);
  std::string bytes(n, '\0');
  for (auto& b : bytes) b = static_cast<char>(pick());
  return bytes;
}

TEST(Apiv1Body, TheSongIsDecodedWhateverThePiecesAndTheOtherMembersAreKeptAsWritten) {
  std::string song = random_bytes(10000);
  std::string body = " {\"model\" : \"htdemucs\", \"mp3\": \"" + test::base64_of(song) +
                     "\" ,\"callback\": {\"url\": \"https://x.example/cb\", \"data\": "
                     "{\"b\": 1.50, \"a\": [1, \"}]\\\"\"]}}} \n";
  for (size_t piece : {size_t(1), size_t(2), size_t(3), size_t(7), size_t(4096), body.size()}) {
    auto r = read_body(body, piece);
    ASSERT_TRUE(r.ok) << piece << ": " << r.error;
    EXPECT_EQ(r.song, song) << piece;
    // Values as the client wrote them (numbers, order, spacing): the callback's data goes back
    // byte for byte.
    EXPECT_EQ(r.members,
              "{\"model\":\"htdemucs\",\"callback\":{\"url\": \"https://x.example/cb\", "
              "\"data\": {\"b\": 1.50, \"a\": [1, \"}]\\\"\"]}}}")
        << piece;
    EXPECT_TRUE(nlohmann::json::parse(r.members, nullptr, false).is_object());
  }
}

TEST(Apiv1Body, JsonEscapesAndLineBreaksInTheSongAreRead) {
  std::string song = random_bytes(300);
  std::string text = test::base64_of(song);
  std::string escaped;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '/')
      escaped += i % 2 ? "\\/" : "\\u002F";  // how some encoders write a slash
    else
      escaped += text[i];
    if (i % 76 == 75) escaped += "\\r\\n";  // MIME line breaks, as JSON escapes
  }
  auto r = read_body("{\"mp3\":\"" + escaped + "\"}", 5);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.song, song);
  EXPECT_EQ(r.members, "{}");
  EXPECT_EQ(decode_base64(text), song);  // the whole-text decoder agrees
}

TEST(Apiv1Body, MalformedBodiesAreRefusedWithAReason) {
  struct Case {
    std::string body, error;
    int status;
  };
  std::vector<Case> cases = {
      {"[1, 2]", "must be a JSON object", 400},
      {"{\"mp3\": 12}", "must be a string", 400},
      {"{\"mp3\": \"QUJD\", \"mp3\": \"QUJD\"}", "appears twice", 400},
      {"{\"mp3\": \"QU!D\"}", "not valid base64", 400},
      {"{\"mp3\": \"QUJDR\"}", "not valid base64", 400},  // one symbol too many
      {"{\"mp3\": \"QU==QUJD\"}", "not valid base64", 400},
      {"{\"mp3\": \"QUJD\\t\"}", "not valid base64", 400},
      {"{\"mp3\": \"QUJD\"", "ends before", 400},
      {"{\"mp3\": \"QUJD\"} x", "more after", 400},
      {"{\"mp3\": \"QUJD\",}", "member name was expected", 400},
      {"{\"mp3\": \"QUJD\" \"model\": 1}", "',' or '}'", 400},
      {"{\"model\" 1}", "':' was expected", 400},
      {"{\"model\": }", "a value was expected", 400},
      {"{\"model\": \"" + std::string(70000, 'x') + "\"}", "larger than 64 KiB", 413},
  };
  for (const auto& c : cases) {
    auto r = read_body(c.body, 3);
    EXPECT_FALSE(r.ok) << c.body.substr(0, 60);
    EXPECT_NE(r.error.find(c.error), std::string::npos) << c.body.substr(0, 60) << ": " << r.error;
    EXPECT_EQ(r.status, c.status) << c.body.substr(0, 60);
  }
  // Other members that are not JSON are caught when the body is parsed as a whole.
  auto r = read_body("{\"mp3\": \"QUJD\", \"model\": tru}", 3);
  ASSERT_TRUE(r.ok);
  EXPECT_TRUE(nlohmann::json::parse(r.members, nullptr, false).is_discarded());
}

TEST(Apiv1Body, ASongOverTheLimitStopsTheReadingEarly) {
  std::string song = random_bytes(200000);
  std::string body = "{\"mp3\": \"" + test::base64_of(song) + "\"}";
  Apiv1BodyReader reader([](const char*, size_t) { return false; });  // nothing fits
  size_t fed = 0;
  while (fed < body.size() && reader.feed(body.data() + fed, 1000)) fed += 1000;
  EXPECT_TRUE(reader.song_too_large());
  EXPECT_LT(fed, 100000u);  // stopped after the first 64 KiB piece, not at the end
  auto r = read_body(body, 4096, 100000);
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(r.too_large);
}

}  // namespace
}  // namespace msaas::api

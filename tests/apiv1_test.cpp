// tests/apiv1_test.cpp: the original service's API, byte for byte, as its sample clients use it:
// post every short*.mp3 as base64 JSON, read the queue, fetch the tracks (base.mp3 = bass),
// remove one; the song hash is the SHA-224 of the uploaded bytes.

#include <thread>

#include "service_support.h"

namespace msaas::test {
namespace {

using nlohmann::json;

TEST(OriginalApi, SampleClientFlow) {
  Service service({.workers = 0});  // no worker yet: the songs wait in the queue
  auto client = service.api->client();
  TempDir dir;
  std::vector<std::string> hashes;
  for (int i = 1; i <= 2; ++i) {
    auto song = make_tone(dir / ("short" + std::to_string(i) + ".mp3"), 3, 44100, 2,
                          {"-c:a", "libmp3lame"}, 300 * i);
    auto res = client.Post("/apiv1/separate", json{{"mp3", base64_of(read_file(song))}}.dump(),
                           "application/json");
    ASSERT_EQ(res->status, 200);
    EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");
    hashes.push_back(sha224_hex(read_file(song)));
    EXPECT_EQ(res->body, "{\"hash\": \"" + hashes.back() +
                             "\", \"reason\": \"Song enqueued for separation\"}");
  }
  // What waits in Redis, newest first (LRANGE toWorker 0 -1), with and without the slash.
  std::string queue = "{\"queue\": [\"" + hashes[1] + "\", \"" + hashes[0] + "\"]}";
  EXPECT_EQ(client.Get("/apiv1/queue")->body, queue);
  EXPECT_EQ(client.Get("/apiv1/queue/")->body, queue);

  // Not separated yet: a JSON 404, not an empty file.
  auto early = client.Get("/apiv1/track/" + hashes[0] + "/vocals.mp3");
  EXPECT_EQ(early->status, 404);
  EXPECT_NE(early->body.find("not ready"), std::string::npos);

  service.add_worker();
  for (int i = 0; i < 600 && client.Get("/apiv1/queue")->body != "{\"queue\": []}"; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(client.Get("/apiv1/queue")->body, "{\"queue\": []}");

  const std::string& hash = hashes[0];
  std::map<std::string, std::string> tracks;
  for (const char* track : {"vocals.mp3", "drums.mp3", "bass.mp3", "base.mp3", "other.mp3"}) {
    auto res = client.Get("/apiv1/track/" + hash + "/" + track);
    for (int i = 0; i < 600 && res->status != 200; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      res = client.Get("/apiv1/track/" + hash + "/" + track);
    }
    ASSERT_EQ(res->status, 200) << track << ": " << res->body;
    EXPECT_EQ(res->get_header_value("Content-Type"), "audio/mpeg");
    tracks[track] = res->body;
    write_text(dir / ("out-" + std::string(track)), res->body);
    auto probe = run({"ffprobe", "-v", "error", "-show_entries", "format=duration", "-of",
                      "csv=p=0", (dir / ("out-" + std::string(track))).string()});
    // Playable as saved; MP3 adds encoder delay and padding frames (72 ms each at the test
    // model's 8 kHz).
    EXPECT_NEAR(std::stod(probe.out), 3.0, 0.25) << track;
  }
  EXPECT_EQ(tracks["base.mp3"], tracks["bass.mp3"]);
  EXPECT_NE(tracks["vocals.mp3"], tracks["drums.mp3"]);

  auto removed = client.Delete("/apiv1/remove/" + hash + "/vocals.mp3");
  ASSERT_EQ(removed->status, 200) << removed->body;
  EXPECT_EQ(json::parse(removed->body)["hash"], hash);
  EXPECT_EQ(client.Get("/apiv1/track/" + hash + "/vocals.mp3")->status, 404);
  EXPECT_EQ(client.Get("/apiv1/remove/" + hash + "/drums.mp3")->status, 200);  // GET removes too
  EXPECT_EQ(client.Get("/apiv1/track/" + hash + "/drums.mp3")->status, 404);
  EXPECT_EQ(client.Get("/apiv1/track/" + hash + "/bass.mp3")->status, 200);  // others stay
  EXPECT_EQ(client.Get("/")->status, 200);
}

TEST(OriginalApi, BadRequestsAreJsonErrors) {
  Service service({.workers = 0});
  auto client = service.api->client();
  auto expect_400 = [&](const std::string& body, const std::string& words) {
    auto res = client.Post("/apiv1/separate", body, "application/json");
    ASSERT_EQ(res->status, 400) << body;
    EXPECT_NE(json::parse(res->body)["error"].get<std::string>().find(words), std::string::npos)
        << res->body;
  };
  expect_400("{not json", "JSON");
  expect_400("[1, 2]", "JSON object");
  expect_400("{}", "mp3");
  expect_400("{\"mp3\": 5}", "mp3");
  expect_400("{\"mp3\": \"@@@not base64@@@\"}", "base64");
  expect_400("{\"mp3\": \"\"}", "empty");
  expect_400("{\"mp3\": \"AAAA\", \"model\": 3}", "model");
  expect_400("{\"mp3\": \"AAAA\", \"callback\": {\"url\": \"file:///etc\"}}", "callback");
  EXPECT_EQ(client.Get("/apiv1/queue")->body, "{\"queue\": []}");
  for (std::string path : {"/apiv1/track/../../etc/passwd", "/apiv1/track/abc/vocals.mp3",
                           "/apiv1/remove/%2e%2e/vocals.mp3"}) {
    auto res = client.Get(path);
    EXPECT_EQ(res->status, 404) << path;
    EXPECT_TRUE(json::parse(res->body).contains("error")) << path;
  }
}

}  // namespace
}  // namespace msaas::test

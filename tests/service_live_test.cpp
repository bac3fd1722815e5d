// Listening while it separates (issue 21), with the real htdemucs from ../shared/models (the
// tiny test models separate a song faster than a client could listen): a running job's stems
// stream as WAV while the worker publishes their parts, the stream's samples are the final WAV
// stem's, the progress events carry the seconds ready; with S3, two workers and API keys; and a
// deleted job leaves no part behind.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <thread>

#include "service_support.h"

using namespace msaas::test;
using nlohmann::json;

namespace {

bool have_real_model() {
  return fs::exists(shared_models() / "955717e8-9e616d19.th");
}

std::map<std::string, std::string> real_model_settings(int threads) {
  return {{"MSAAS_MODELS", shared_models().string()},
          {"MSAAS_DEFAULT_MODEL", "955717e8"},
          {"MSAAS_THREADS", std::to_string(threads)},
          {"MSAAS_LEASE_SECONDS", "10"}};
}

// The PCM bytes of a WAV file's data chunk (FFmpeg may write other chunks before it).
std::string wav_data(const std::string& wav) {
  size_t at = 12;
  while (at + 8 <= wav.size()) {
    uint32_t size;
    std::memcpy(&size, wav.data() + at + 4, 4);
    if (wav.compare(at, 4, "data") == 0) return wav.substr(at + 8, size);
    at += 8 + size + (size & 1);
  }
  ADD_FAILURE() << "no data chunk";
  return "";
}

// Polls the job until a run has published its stems' shape (the view's `live`).
json wait_for_live(httplib::Client& client, const std::string& id,
                   const httplib::Headers& headers = {}) {
  json job;
  EXPECT_TRUE(eventually(90, [&] {
    auto res = client.Get("/v1/jobs/" + id, headers);
    job = res && res->status == 200 ? json::parse(res->body) : json();
    return job.contains("live") || job.value("status", "") == "done";
  })) << job;
  return job;
}

// One stem's stream as a listener gets it.
struct Listened {
  int status = 0;
  std::string content_range;
  std::string body;
  double first_audio_s = -1;    // after the request, when the first samples came
  std::string job_status_then;  // the job's status at that moment
};

// `range`: a Range header to send with the stream's request (a player's).
Listened listen(int port, const std::string& id, const std::string& stem,
                const httplib::Headers& headers = {}, const std::string& range = "") {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(120, 0);
  httplib::Client asker("127.0.0.1", port);
  Listened out;
  auto started = std::chrono::steady_clock::now();
  httplib::Headers asking = headers;
  if (!range.empty()) asking.emplace("Range", range);
  auto res = client.Get(
      "/v1/jobs/" + id + "/stems/" + stem, asking,
      [&](const httplib::Response& r) {
        out.status = r.status;
        out.content_range = r.get_header_value("Content-Range");
        return true;
      },
      [&](const char* data, size_t n) {
        out.body.append(data, n);
        if (out.first_audio_s < 0 && out.body.size() > 44) {
          out.first_audio_s =
              std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
          auto job = asker.Get("/v1/jobs/" + id, headers);
          if (job) out.job_status_then = json::parse(job->body).value("status", "");
        }
        return true;
      });
  if (res) out.status = res->status;
  return out;
}

std::string download(httplib::Client& client, const std::string& path,
                     const httplib::Headers& headers = {}) {
  auto res = client.Get(path, headers);
  EXPECT_TRUE(res && res->status == 200) << (res ? res->body : "no answer");
  return res ? res->body : "";
}

}  // namespace

TEST(LiveStemsRealHtdemucs, StreamWhileSeparatingAndMatchTheFinalStems) {
  if (!have_real_model()) GTEST_SKIP() << "no htdemucs in " << shared_models();
  Service service({.workers = 1, .settings = real_model_settings(2)});
  auto client = service.api->client();
  TempDir dir;
  std::string id = post_song(client, mp3_song(dir, 24, 330), "?format=wav")["id"];

  // The progress events, read alongside: they must carry the seconds ready.
  std::mutex events_mutex;
  std::string events;
  std::thread event_reader([&] {
    httplib::Client c("127.0.0.1", service.api->port());
    c.set_read_timeout(120, 0);
    c.Get("/v1/jobs/" + id + "/events", [&](const char* data, size_t n) {
      std::lock_guard lock(events_mutex);
      events.append(data, n);
      return true;
    });
  });

  json job = wait_for_live(client, id);
  ASSERT_EQ(job["status"], "running") << job;
  EXPECT_NEAR(job["live"]["seconds"].get<double>(), 24, 0.1);
  std::vector<std::string> stems;
  for (const auto& s : job["live"]["stems"]) stems.push_back(s["name"]);
  EXPECT_EQ(stems, (std::vector<std::string>{"drums", "bass", "other", "vocals"}));

  // Every stem at once, as the page listens; one as a player asks (Range: bytes=0-) and one as
  // a resuming client would: both get 200 and the whole file (Range is not applied).
  std::vector<Listened> heard(stems.size());
  std::vector<std::thread> listeners;
  std::vector<std::string> ranges = {"bytes=0-", "bytes=1000-", "", ""};
  for (size_t i = 0; i < stems.size(); ++i)
    listeners.emplace_back(
        [&, i] { heard[i] = listen(service.api->port(), id, stems[i], {}, ranges[i]); });
  for (auto& t : listeners) t.join();
  event_reader.join();

  job = wait_for_job(client, id);
  ASSERT_EQ(job["status"], "done") << job;
  EXPECT_NEAR(job["seconds_ready"].get<double>(), 24, 0.1);
  for (size_t i = 0; i < stems.size(); ++i) {
    SCOPED_TRACE(stems[i]);
    EXPECT_EQ(heard[i].status, 200);
    EXPECT_EQ(heard[i].content_range, "");
    EXPECT_EQ(heard[i].body.substr(0, 4), "RIFF");
    EXPECT_EQ(heard[i].job_status_then, "running") << "the first audio came only after the job";
    std::cout << stems[i] << ": first audio " << heard[i].first_audio_s << " s after asking\n";
    std::string final_pcm = wav_data(download(client, "/v1/jobs/" + id + "/stems/" + stems[i]));
    ASSERT_GE(heard[i].body.size(), 44u);
    EXPECT_EQ(heard[i].body.size(), 44 + final_pcm.size());
    // The header says what the final file's does: 16-bit stereo at 44.1 kHz, this many bytes.
    EXPECT_EQ(wav_data(heard[i].body).size(), final_pcm.size());
    EXPECT_EQ(heard[i].body.substr(22, 8),
              std::string("\x02\x00\x44\xac\x00\x00", 6) + std::string("\x10\xb1", 2));
    EXPECT_TRUE(heard[i].body.compare(44, std::string::npos, final_pcm) == 0)
        << "the streamed samples differ from the final stem's";
  }
  // Progress events while running said how much was ready, growing.
  std::lock_guard lock(events_mutex);
  double most = 0, least = 24;
  int running_with_audio = 0;
  for (size_t at = 0; (at = events.find("data: ", at)) != std::string::npos; ++at) {
    auto event = json::parse(events.substr(at + 6, events.find('\n', at) - at - 6));
    if (event["status"] == "running" && event.value("seconds_ready", 0.0) > 0) {
      ++running_with_audio;
      EXPECT_GE(event["seconds_ready"].get<double>(), most);
      most = event["seconds_ready"];
      least = std::min(least, most);
    }
  }
  EXPECT_GE(running_with_audio, 2) << events;
  EXPECT_LT(least, 24) << "no event while only part of the song was ready";
}

TEST(LiveStemsRealHtdemucs, TwoWorkersS3AndKeysEachOwnerHearsOnlyTheirs) {
  if (!have_real_model()) GTEST_SKIP() << "no htdemucs in " << shared_models();
  TempDir dir;
  std::string alice(32, 'a'), bob(32, 'b');
  write_text(dir / "keys", "alice:" + alice + "\nbob:" + bob + "\n");
  auto settings = real_model_settings(1);
  settings["MSAAS_API_KEYS_FILE"] = (dir / "keys").string();
  Service service({.storage = Storage::s3, .workers = 2, .settings = settings});
  auto client = service.api->client();
  auto as = [](const std::string& key) {
    return httplib::Headers{{"Authorization", "Bearer " + key}};
  };
  auto submit = [&](const std::string& key, double hz) {
    auto res = client.Post("/v1/jobs?format=wav&stems=two:vocals", as(key),
                           read_file(mp3_song(dir, 14, hz)), "audio/mpeg");
    EXPECT_TRUE(res && res->status == 201) << (res ? res->body : "no answer");
    return json::parse(res->body)["id"].get<std::string>();
  };
  std::string alices = submit(alice, 330), bobs = submit(bob, 220);
  json a = wait_for_live(client, alices, as(alice));
  json b = wait_for_live(client, bobs, as(bob));
  ASSERT_EQ(a["status"], "running");
  ASSERT_EQ(b["status"], "running") << "two workers: both jobs separate at once";

  // Bob cannot hear Alice's song, not even that it exists.
  auto peek = client.Get("/v1/jobs/" + alices + "/stems/vocals", as(bob));
  ASSERT_TRUE(peek);
  EXPECT_EQ(peek->status, 404);
  Listened hers, his;
  std::thread other([&] { his = listen(service.api->port(), bobs, "no_vocals", as(bob)); });
  hers = listen(service.api->port(), alices, "vocals", as(alice));
  other.join();
  for (auto [heard, id, key, stem] :
       {std::tuple{&hers, alices, alice, "vocals"}, std::tuple{&his, bobs, bob, "no_vocals"}}) {
    EXPECT_EQ(heard->status, 200);
    EXPECT_EQ(heard->job_status_then, "running");
    json job;
    ASSERT_TRUE(eventually(120, [&] {
      job = json::parse(client.Get("/v1/jobs/" + id, as(key))->body);
      return job["status"] == "done";
    })) << job;
    std::string final_pcm =
        wav_data(download(client, "/v1/jobs/" + id + "/stems/" + stem, as(key)));
    EXPECT_TRUE(heard->body.size() > 44 &&
                heard->body.compare(44, std::string::npos, final_pcm) == 0)
        << id << ": the streamed samples differ from the final stem's";
  }
  // The parts are in S3 under each run's prefix while kept for late listeners.
  int parts = 0;
  for (const auto& key : service.s3->keys("output"))
    if (key.find("/parts/") != std::string::npos) ++parts;
  EXPECT_GT(parts, 0);
}

TEST(LiveStemsRealHtdemucs, ADeletedJobEndsItsStreamsAndLeavesNoParts) {
  if (!have_real_model()) GTEST_SKIP() << "no htdemucs in " << shared_models();
  Service service({.workers = 1, .settings = real_model_settings(2)});
  auto client = service.api->client();
  TempDir dir;
  std::string id = submit_song(client, mp3_song(dir, 40, 330));
  // Queued or not yet decoded: nothing to hear, say when to ask again.
  auto early = client.Get("/v1/jobs/" + id + "/stems/vocals");
  ASSERT_TRUE(early);
  if (early->status == 409) {
    EXPECT_FALSE(early->get_header_value("Retry-After").empty());
  }
  ASSERT_TRUE(wait_for_live(client, id).contains("live"));
  Listened heard;
  std::thread listener([&] { heard = listen(service.api->port(), id, "drums"); });
  ASSERT_TRUE(eventually(
      60, [&] { return get_json(client, "/v1/jobs/" + id).value("seconds_ready", 0.0) > 0; }));
  EXPECT_EQ(client.Delete("/v1/jobs/" + id)->status, 200);
  listener.join();
  EXPECT_LT(heard.body.size(), 44 + 40 * 44100 * 4) << "the stream of a deleted job ends early";
  fs::path stored = service.data.path() / "storage" / "output" / id;
  auto parts_left = [&] {
    int n = 0;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(stored, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
      if (it->is_regular_file()) ++n;
    return n;
  };
  EXPECT_TRUE(eventually(60, [&] { return parts_left() == 0; }))
      << parts_left() << " files left under " << stored;
}

TEST(LiveStemsRealHtdemucs, AHandedBackJobEndsItsStreamsAndTheNextRunIsHeardWhole) {
  if (!have_real_model()) GTEST_SKIP() << "no htdemucs in " << shared_models();
  auto settings = real_model_settings(2);
  settings["MSAAS_GRACE_SECONDS"] = "1";
  Service service({.workers = 1, .settings = settings});
  auto client = service.api->client();
  TempDir dir;
  std::string id = post_song(client, mp3_song(dir, 30, 330), "?format=wav")["id"];
  ASSERT_TRUE(wait_for_live(client, id).contains("live"));
  Listened cut;
  std::thread listener([&] { cut = listen(service.api->port(), id, "bass"); });
  ASSERT_TRUE(eventually(
      60, [&] { return get_json(client, "/v1/jobs/" + id).value("seconds_ready", 0.0) > 0; }));
  // The worker stops; past its grace the job goes back to the queue, and the stream ends.
  service.workers[0]->kill(SIGTERM);
  EXPECT_EQ(service.workers[0]->stop(30), 0);
  listener.join();
  EXPECT_GT(cut.body.size(), 44u);
  EXPECT_LT(cut.body.size(), 44 + 30 * 44100 * 4) << "the stream of a handed-back job ends early";
  auto queued = get_json(client, "/v1/jobs/" + id);
  EXPECT_EQ(queued["status"], "queued") << queued;
  EXPECT_FALSE(queued.contains("live")) << "the gone run's stems are not offered";
  EXPECT_EQ(client.Get("/v1/jobs/" + id + "/stems/bass")->status, 409);

  // The next run publishes its own parts: heard whole, they are the final stem's samples.
  service.add_worker();
  ASSERT_TRUE(wait_for_live(client, id).contains("live"));
  Listened whole = listen(service.api->port(), id, "bass");
  ASSERT_EQ(wait_for_job(client, id)["status"], "done");
  std::string final_pcm = wav_data(download(client, "/v1/jobs/" + id + "/stems/bass"));
  EXPECT_EQ(whole.body.size(), 44 + final_pcm.size());
  EXPECT_TRUE(whole.body.size() > 44 && whole.body.compare(44, std::string::npos, final_pcm) == 0);
  // What the first run heard is the same audio, as far as it went.
  EXPECT_TRUE(whole.body.compare(0, cut.body.size(), cut.body) == 0);
}

// The same path with the tiny test model (a long song, short parts), so it runs everywhere,
// the sanitizer suite included: the parts' thread, the record, the stream.
TEST(LiveStems, ALongSongWithTheTestModelStreamsWhileItSeparates) {
  Service service({.workers = 1, .settings = {{"MSAAS_LIVE_PART_SECONDS", "1"}}});
  auto client = service.api->client();
  TempDir dir;
  std::string id = post_song(client, mp3_song(dir, 240, 330), "?format=wav&stems=two:vocals")["id"];
  json job = wait_for_live(client, id);
  if (job["status"] != "running") GTEST_SKIP() << "the test model finished first: " << job;
  Listened heard = listen(service.api->port(), id, "no_vocals");
  ASSERT_EQ(wait_for_job(client, id, 300)["status"], "done");
  EXPECT_EQ(heard.status, 200);
  EXPECT_EQ(heard.job_status_then, "running");
  std::string final_wav = download(client, "/v1/jobs/" + id + "/stems/no_vocals");
  std::string final_pcm = wav_data(final_wav);
  // The same format as the final file: channels, rate, byte rate, frame size, bits.
  EXPECT_EQ(heard.body.substr(22, 14), final_wav.substr(22, 14));
  EXPECT_EQ(heard.body.size(), 44 + final_pcm.size());
  EXPECT_TRUE(heard.body.size() > 44 && heard.body.compare(44, std::string::npos, final_pcm) == 0);
}

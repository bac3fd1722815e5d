// tests/service_lifecycle_test.cpp: issue 17 through the real programs (msaas-api, msaas-worker,
// redis-server, filesystem storage): jobs of one song each own their upload, so deleting one
// never costs another its song and a DELETE removes the job's upload with its stems; callbacks go
// out once per submission, on success and on failure, with the caller's data as given, and a
// callback that keeps failing is tried exactly three times.
#include <mutex>
#include <set>
#include <thread>

#include "queue/jobs.h"
#include "queue/redis.h"
#include "service_support.h"

namespace msaas::test {
namespace {

using nlohmann::json;

// Files under a storage bucket folder (fs backend), by path relative to it.
std::set<std::string> stored(const Service& service, const std::string& bucket) {
  std::set<std::string> names;
  fs::path root = service.data / "storage" / bucket;
  if (!fs::exists(root)) return names;
  for (const auto& entry : fs::recursive_directory_iterator(root))
    if (entry.is_regular_file()) names.insert(fs::relative(entry.path(), root).string());
  return names;
}

// Item 2: before, both jobs shared "<songhash>.mp3"; deleting (or expiring) the first removed
// the song the second was still waiting to separate, and it ended in the deadletter list.
TEST(Lifecycle, DeletingOneJobOfASongLeavesTheOthersUploadAndRemovesItsOwn) {
  Service service({.workers = 0});
  auto client = service.api->client();
  TempDir dir;
  auto song = make_tone(dir / "song.mp3", 3, 44100, 2, {"-c:a", "libmp3lame"}, 330);
  std::string mp3 = post_song(client, song, "", 201)["id"];
  std::string wav = post_song(client, song, "?format=wav", 201)["id"];
  ASSERT_EQ(stored(service, "queue").size(), 2u) << "each job stores its own upload";
  ASSERT_EQ(client.Delete("/v1/jobs/" + mp3)->status, 200);
  EXPECT_EQ(stored(service, "queue").size(), 1u) << "the deleted job's upload is gone";
  service.add_worker();
  auto job = wait_for_job(client, wav);
  EXPECT_EQ(job["status"], "done") << job.dump();
  EXPECT_EQ(job["attempts"], 0);
  // The same song again: a new job with a new upload of its own, done as well.
  std::string again = post_song(client, song, "", 201)["id"];
  EXPECT_EQ(again, mp3);
  EXPECT_EQ(wait_for_job(client, again)["status"], "done");
  ASSERT_EQ(client.Delete("/v1/jobs/" + wav)->status, 200);
  ASSERT_EQ(client.Delete("/v1/jobs/" + again)->status, 200);
  EXPECT_TRUE(stored(service, "queue").empty());
  EXPECT_TRUE(stored(service, "output").empty());
  EXPECT_EQ(queue::Redis(service.redis.url()).command({"ZCARD", "trash"}).integer, 0);
}

// Item 4: the autoscaler's figure counts jobs being separated, not only those waiting; scaling
// on the queue alone stopped a long song's worker in mid-job, again and again.
TEST(Lifecycle, TheAutoscalerCountsRunningJobs) {
  Service service({.workers = 0});
  auto client = service.api->client();
  TempDir dir;
  for (double hz : {300.0, 400.0})
    post_song(
        client,
        make_tone(dir / (std::to_string(hz) + ".mp3"), 2, 44100, 2, {"-c:a", "libmp3lame"}, hz), "",
        201);
  queue::RedisPool pool(service.redis.url());
  queue::JobQueue jobs(pool, queue::QueueSettings{});
  queue::Redis blocking(service.redis.url(), 5);
  ASSERT_TRUE(jobs.claim(blocking, "a-worker", 1));  // one job taken: running, not waiting
  auto scaling = get_json(client, "/scaling");
  EXPECT_EQ(scaling["waiting"], 1);
  EXPECT_EQ(scaling["running"], 1);
  EXPECT_EQ(scaling["demand"], 2);
}

struct CallbackReceiver {
  httplib::Server server;
  std::thread serving;
  std::mutex mutex;
  std::map<std::string, std::vector<std::string>> bodies;  // by path
  std::map<std::string, std::string> statuses;             // X-MSaaS-Status, by path
  std::string base;
  CallbackReceiver() {
    server.Post(".*", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(mutex);
      bodies[req.path].push_back(req.body);
      statuses[req.path] = req.get_header_value("X-MSaaS-Status");
      res.status = req.path == "/broken" ? 500 : 200;
      if (req.path == "/redirect") res.set_redirect(base + "/target", 307);
    });
    int port = server.bind_to_any_port("127.0.0.1");
    serving = std::thread([this] { server.listen_after_bind(); });
    base = "http://127.0.0.1:" + std::to_string(port);
  }
  ~CallbackReceiver() {
    server.stop();
    serving.join();
  }
  size_t count(const std::string& path) {
    std::lock_guard lock(mutex);
    return bodies[path].size();
  }
  std::string body(const std::string& path, size_t i) {
    std::lock_guard lock(mutex);
    return bodies[path].at(i);
  }
  bool wait_for(const std::string& path, size_t n, double seconds = 60) {
    for (int i = 0; i < seconds * 10; ++i) {
      if (count(path) >= n) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }
};

// Item 8.
TEST(Lifecycle, CallbacksGoOutOncePerSubmissionOnSuccessAndFailure) {
  CallbackReceiver receiver;
  const auto& base = receiver.base;
  Service service({.workers = 0});
  auto client = service.api->client();
  TempDir dir;
  auto a = make_tone(dir / "a.mp3", 3, 44100, 2, {"-c:a", "libmp3lame"}, 600);
  auto b = make_tone(dir / "b.mp3", 3, 44100, 2, {"-c:a", "libmp3lame"}, 700);
  auto c = make_tone(dir / "c.mp3", 3, 44100, 2, {"-c:a", "libmp3lame"}, 800);
  // Original API: the caller's data exactly, twice for two submissions of the same song.
  // Written as no JSON printer would: spaces, 1.50, 1e3, an integer past 64 bits, escapes.
  std::string data =
      R"({ "list" : [ ], "big": 123456789012345678901234567890, "f": 1.50, "e": 1e3, )"
      R"("u": "\u00e9", "s": "a\/b", "deep": {"x": [1, {"y": null}]} })";
  std::string payload = R"({"mp3": ")" + run({"base64", "-w0", a.string()}).out +
                        R"(", "callback": {"url": ")" + base + R"(/apiv1", "data": )" + data + "}}";
  ASSERT_EQ(client.Post("/apiv1/separate", payload, "application/json")->status, 200);
  ASSERT_EQ(client.Post("/apiv1/separate", payload, "application/json")->status, 200);
  // /v1: two submissions of one job with two URLs; one job that fails; one URL that fails.
  std::string id = post_song(client, b, "?callback_url=" + base + "/first", 201)["id"];
  post_song(client, b, "?callback_url=" + base + "/second", 200);
  std::string failing =
      post_song(client, c, "?stems=two:guitar&callback_url=" + base + "/failed", 201)["id"];
  std::string broken = post_song(client, c, "?callback_url=" + base + "/broken", 201)["id"];
  service.add_worker();
  EXPECT_EQ(wait_for_job(client, id)["status"], "done");
  EXPECT_EQ(wait_for_job(client, failing)["status"], "failed");
  EXPECT_EQ(wait_for_job(client, broken)["status"], "done");  // a failing callback is harmless
  ASSERT_TRUE(receiver.wait_for("/apiv1", 2));
  ASSERT_TRUE(receiver.wait_for("/first", 1));
  ASSERT_TRUE(receiver.wait_for("/second", 1));
  ASSERT_TRUE(receiver.wait_for("/failed", 1));
  ASSERT_TRUE(receiver.wait_for("/broken", 3));
  // A submission after the end is told at once.
  post_song(client, b, "?callback_url=" + base + "/late", 200);
  ASSERT_TRUE(receiver.wait_for("/late", 1));
  std::this_thread::sleep_for(std::chrono::seconds(5));  // time for any extra copy to arrive

  for (size_t i = 0; i < 2; ++i) EXPECT_EQ(receiver.body("/apiv1", i), data);  // byte for byte
  auto done = json::parse(receiver.body("/first", 0));
  EXPECT_EQ(done["id"], id);
  EXPECT_EQ(done["status"], "done");
  EXPECT_EQ(done["stems"].size(), 4u);
  EXPECT_EQ(json::parse(receiver.body("/second", 0)), done);
  EXPECT_EQ(json::parse(receiver.body("/late", 0)), done);
  // The original API's body is the caller's data either way: the header tells them apart.
  EXPECT_EQ(receiver.statuses["/apiv1"], "done");
  EXPECT_EQ(receiver.statuses["/failed"], "failed");
  auto failed = json::parse(receiver.body("/failed", 0));
  EXPECT_EQ(failed["status"], "failed");
  EXPECT_NE(failed["error"].get<std::string>().find("guitar"), std::string::npos) << failed;
  for (const char* path : {"/apiv1", "/first", "/second", "/failed", "/late", "/broken"})
    EXPECT_EQ(receiver.count(path), std::string(path) == "/broken"  ? 3u
                                    : std::string(path) == "/apiv1" ? 2u
                                                                    : 1u)
        << path;
}

// Issue 18, item 4: with private ranges not allowed (the default), callbacks into the machine or
// the cluster are refused and logged, and the job still finishes; a redirect is not followed.
TEST(Lifecycle, CallbacksIntoTheClusterAreRefusedAndTheJobStillFinishes) {
  CallbackReceiver receiver;
  std::string port = receiver.base.substr(receiver.base.rfind(':') + 1);
  Service service({.workers = 0, .settings = {{"MSAAS_CALLBACK_ALLOW_PRIVATE", "0"}}});
  auto client = service.api->client();
  TempDir dir;
  std::vector<std::string> targets = {receiver.base + "/direct",
                                      "http://localhost:" + port + "/name",
                                      "http://[::1]:" + port + "/v6", "http://10.0.0.1/",
                                      "http://169.254.169.254/latest/meta-data/"};
  std::vector<std::string> ids;
  for (size_t i = 0; i < targets.size(); ++i)
    ids.push_back(post_song(client,
                            make_tone(dir / ("s" + std::to_string(i) + ".mp3"), 2, 44100, 2,
                                      {"-c:a", "libmp3lame"}, 300 + 50 * i),
                            "?callback_url=" + targets[i], 201)["id"]);
  service.add_worker();
  for (const auto& id : ids) EXPECT_EQ(wait_for_job(client, id)["status"], "done");
  auto log = [&] { return read_file(service.data / "worker-1.log"); };
  EXPECT_TRUE(eventually(30, [&] {
    size_t refused = 0;
    for (size_t at = 0; (at = log().find("refused:", at)) != std::string::npos; ++at) ++refused;
    return refused >= targets.size();
  })) << log();
  for (const auto& target : targets)
    EXPECT_NE(log().find("callback to " + target + " refused"), std::string::npos) << target << "\n"
                                                                                   << log();
  EXPECT_EQ(receiver.count("/direct") + receiver.count("/name") + receiver.count("/v6"), 0u);
}

// With private ranges allowed (in-cluster receivers), a redirect is still not followed.
TEST(Lifecycle, CallbackRedirectsAreNotFollowed) {
  CallbackReceiver receiver;
  Service service({.workers = 1});
  auto client = service.api->client();
  TempDir dir;
  auto song = make_tone(dir / "r.mp3", 2, 44100, 2, {"-c:a", "libmp3lame"}, 500);
  std::string id =
      post_song(client, song, "?callback_url=" + receiver.base + "/redirect", 201)["id"];
  EXPECT_EQ(wait_for_job(client, id)["status"], "done");
  ASSERT_TRUE(receiver.wait_for("/redirect", 3));
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_EQ(receiver.count("/redirect"), 3u);  // a redirect is not a success: tried three times
  EXPECT_EQ(receiver.count("/target"), 0u);
}

}  // namespace
}  // namespace msaas::test

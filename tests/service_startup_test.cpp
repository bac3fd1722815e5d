// tests/service_startup_test.cpp: how the programs start when the things they need are late,
// wrong or missing, as happens when containers start together. The API starts before Redis and
// becomes ready once Redis answers; with a wrong S3 secret it stays up, says 503 on /readyz and
// logs S3's reason; a worker without its default model stays up, takes no job, says which model
// and where, and starts working once the model appears. None of them exits (no crash loop).
#include <unistd.h>

#include <thread>

#include "service_support.h"

namespace msaas::test {
namespace {

using nlohmann::json;

int status_of(httplib::Client& client, const std::string& path) {
  auto res = client.Get(path);
  return res ? res->status : 0;
}

TEST(Startup, ApiStartedBeforeRedisBecomesReadyWhenRedisComes) {
  RedisServer redis;
  redis.stop();
  TempDir data;
  ApiProcess api(service_environment(redis, data.path()), data.path());
  auto client = api.client();
  EXPECT_EQ(status_of(client, "/healthz"), 200);
  auto early = get_json(client, "/readyz", 503);
  EXPECT_NE(early["checks"]["redis"].get<std::string>(), "ok");
  redis.start();
  EXPECT_TRUE(eventually(10, [&] { return status_of(client, "/readyz") == 200; }));
}

TEST(Startup, ApiWithWrongS3SecretStaysUpAndSaysWhy) {
  RedisServer redis;
  S3Peer s3;
  TempDir data;
  auto env = service_environment(redis, data.path(), &s3);
  env["MSAAS_S3_SECRET_KEY"] = "not/the+secret";
  ApiProcess api(env, data.path());
  auto client = api.client();
  auto ready = get_json(client, "/readyz", 503);
  EXPECT_NE(ready["checks"]["storage"].get<std::string>().find("SignatureDoesNotMatch"),
            std::string::npos)
      << ready.dump();
  EXPECT_EQ(ready["checks"]["redis"], "ok");
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ(status_of(client, "/healthz"), 200);  // still there
  std::string log = read_file(data / "api.log");
  EXPECT_NE(log.find("storage not ready (retrying)"), std::string::npos) << log;
  EXPECT_NE(log.find("not ready: "), std::string::npos) << log;
}

// A peer that takes connections and never answers: the kernel accepts them into the backlog.
struct SilentPeer {
  int port = 0;
  int fd = listen_on_loopback(port);
  ~SilentPeer() { close(fd); }
};

TEST(Startup, ApiWithAStalledStorageServesAndStopsPromptly) {
  RedisServer redis;
  SilentPeer s3;
  TempDir data;
  auto env = service_environment(redis, data.path());
  env["MSAAS_STORAGE"] = "s3";
  env["MSAAS_S3_ENDPOINT"] = "http://127.0.0.1:" + std::to_string(s3.port);
  env["MSAAS_S3_ACCESS_KEY"] = env["MSAAS_S3_SECRET_KEY"] = "unused";
  auto started = std::chrono::steady_clock::now();
  ApiProcess api(env, data.path());
  auto seconds_since = [](auto t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
  };
  EXPECT_LT(seconds_since(started), 5);  // bound after the 2 s wait, not the 60 s stall
  auto client = api.client();
  EXPECT_EQ(status_of(client, "/healthz"), 200);
  auto asked = std::chrono::steady_clock::now();
  auto ready = get_json(client, "/readyz", 503);
  EXPECT_LT(seconds_since(asked), 5);  // the probe's storage check gives up after 3 s
  EXPECT_NE(ready["checks"]["storage"].get<std::string>().find("no answer in time"),
            std::string::npos)
      << ready.dump();
  client.stop();  // no idle keep-alive connection for the server to wait out
  auto stopping = std::chrono::steady_clock::now();
  EXPECT_EQ(api.stop(20), 0);
  EXPECT_LT(seconds_since(stopping), 5);  // the bucket setup's stalled call is let go
}

TEST(Startup, WorkerWithoutItsModelTakesNoJobUntilTheModelIsThere) {
  Service service({.workers = 0});
  TempDir models;
  service.env["MSAAS_MODELS"] = models.path().string();
  service.env["MSAAS_READY_FILE"] = (service.data / "worker.ready").string();
  service.add_worker();
  auto client = service.api->client();
  auto log = [&] { return read_file(service.data / "worker-1.log"); };
  ASSERT_TRUE(eventually(10, [&] {
    return log().find("cannot load the default model") != std::string::npos;
  })) << log();
  EXPECT_NE(log().find("tinyht1 from " + models.path().string()), std::string::npos) << log();
  EXPECT_FALSE(fs::exists(service.data / "worker.ready"));

  TempDir dir;
  auto song = make_tone(dir / "song.mp3", 2, 44100, 2, {"-c:a", "libmp3lame"}, 440);
  auto res = client.Post("/v1/jobs", read_file(song), "audio/mpeg");
  ASSERT_TRUE(res && res->status == 201) << (res ? res->body : "no answer");
  std::string id = json::parse(res->body)["id"];
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_EQ(get_json(client, "/v1/jobs/" + id)["status"], "queued");  // not taken, not failed
  EXPECT_TRUE(service.workers[0]->running());

  for (const auto& file : fs::directory_iterator(test_data() / "parity" / "models"))
    if (file.path().filename().string().rfind("tinyht1", 0) == 0)
      fs::copy_file(file.path(), models / file.path().filename());
  EXPECT_EQ(wait_for_job(client, id, 60)["status"], "done");
  EXPECT_TRUE(fs::exists(service.data / "worker.ready"));
}

TEST(Startup, WorkerNamesTheOfficialModelFileItNeeds) {
  Service service({.workers = 0});
  TempDir models;
  service.env["MSAAS_MODELS"] = models.path().string();
  service.env["MSAAS_DEFAULT_MODEL"] = "htdemucs";
  service.add_worker();
  auto log = [&] { return read_file(service.data / "worker-1.log"); };
  EXPECT_TRUE(eventually(10, [&] { return log().find("it needs 955717e8") != std::string::npos; }))
      << log();
  EXPECT_NE(log().find("msaas models pull htdemucs --repo " + models.path().string()),
            std::string::npos)
      << log();
  EXPECT_TRUE(service.workers[0]->running());
}

// Settings from the environment get the same range checks as flags: the program refuses to
// start with one line naming the setting (a lease of 0 made every heartbeat fail and the reaper
// take every running job). A keys-file line with no name is refused too: it would share jobs
// with keyless callers.
TEST(Startup, OutOfRangeSettingsAndNamelessKeysAreRefusedAtStart) {
  for (const auto& [program, setting] : std::vector<std::pair<std::string, std::string>>{
           {MSAAS_WORKER_BINARY, "MSAAS_LEASE_SECONDS=0"},
           {MSAAS_API_BINARY, "MSAAS_MAX_CONCURRENT_UPLOADS=0"},
           {MSAAS_API_BINARY, "MSAAS_SHIFTS=-1"}}) {
    auto result = run({"env", setting, program});
    EXPECT_NE(result.exit_code, 0) << setting;
    std::string name = setting.substr(0, setting.find('='));
    EXPECT_NE(result.err.find(name + " must be"), std::string::npos) << result.err;
  }
  TempDir dir;
  write_text(dir / "keys", "alice:0123456789abcdef0123\n:fedcba9876543210fedc\n");
  RedisServer redis;
  auto result = run({"env", "MSAAS_REDIS_URL=" + redis.url(), "MSAAS_PORT=0",
                     "MSAAS_STORAGE_DIR=" + (dir / "storage").string(),
                     "MSAAS_SPOOL_DIR=" + (dir / "spool").string(),
                     "MSAAS_API_KEYS_FILE=" + (dir / "keys").string(), MSAAS_API_BINARY});
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.err.find("line 2"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("no name"), std::string::npos) << result.err;
}

}  // namespace
}  // namespace msaas::test

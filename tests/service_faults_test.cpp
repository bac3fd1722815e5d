// tests/service_faults_test.cpp: broken infrastructure. Redis restarted (append-only file on),
// the S3 peer gone for a while, a full disk under the filesystem backend, a job that kills its
// worker every time. Afterwards every accepted job is done, or failed with a reason; none is
// lost or stuck.
#include <signal.h>

#include <thread>

#include "queue/redis.h"
#include "service_support.h"

namespace msaas::test {
namespace {

using nlohmann::json;

TEST(Faults, RedisRestartsLoseNoJob) {
  Service service({.workers = 0});
  auto client = service.api->client();
  TempDir dir;
  std::string waiting = submit_song(client, mp3_song(dir, 3, 300));
  service.redis.stop();
  EXPECT_EQ(get_json(client, "/readyz", 503)["status"], "not ready");
  service.redis.start();
  EXPECT_EQ(get_json(client, "/v1/jobs/" + waiting)["status"], "queued");  // from the AOF

  service.add_worker();
  EXPECT_EQ(wait_for_job(client, waiting)["status"], "done");

  // Mid-job: Redis goes away while the worker separates, and comes back.
  std::string running = submit_song(client, mp3_song(dir, 150, 400));
  wait_for_stage(client, running, "separating");
  service.redis.stop();
  std::this_thread::sleep_for(std::chrono::seconds(1));
  service.redis.start();
  auto job = wait_for_job(client, running, 180);
  EXPECT_EQ(job["status"], "done") << job;
}

TEST(Faults, AStorageOutageIsRiddenOutWithBackoff) {
  Service service(
      {.storage = Storage::s3,
       .workers = 0,
       .settings = {{"MSAAS_RETRY_BACKOFF_SECONDS", "1"}, {"MSAAS_MAX_ATTEMPTS", "6"}}});
  auto client = service.api->client();
  TempDir dir;
  std::string id = submit_song(client, mp3_song(dir, 3, 500));
  service.s3->stop();
  // Uploads meanwhile are refused (503, JSON) and nothing is queued for them.
  auto refused = client.Post("/v1/jobs", read_file(mp3_song(dir, 2, 600)), "audio/mpeg");
  EXPECT_EQ(refused->status, 503);
  EXPECT_NE(json::parse(refused->body)["error"].get<std::string>().find("storage"),
            std::string::npos);
  EXPECT_EQ(get_json(client, "/v1/queue")["waiting"], 1);

  service.add_worker();  // fails to fetch the upload, retries after 1 s, 2 s, 4 s ...
  json job;
  for (int i = 0; i < 200 && (job = get_json(client, "/v1/jobs/" + id))["attempts"] < 2; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(job["status"], "queued");
  EXPECT_EQ(job["stage"], "retrying");
  EXPECT_FALSE(job["error"].is_null());
  service.s3->start();
  job = wait_for_job(client, id, 120);
  EXPECT_EQ(job["status"], "done") << job;
  EXPECT_GE(job["attempts"], 2);
}

TEST(Faults, AFullDiskRefusesUploadsCleanlyAndFailsJobsWithAReason) {
  // The kernel's file-size limit makes writes fail as on a full disk (EFBIG instead of ENOSPC):
  // mounting a small filesystem would need privileges a test machine may not give.
  Service service(
      {.workers = 0,
       .settings = {{"MSAAS_RETRY_BACKOFF_SECONDS", "1"}, {"MSAAS_MAX_ATTEMPTS", "2"}}});
  ApiProcess full_api(service.env, service.data.path(),
                      {"/usr/bin/prlimit", "--fsize=65536", "--"});
  auto client = full_api.client();
  TempDir dir;
  auto big = mp3_song(dir, 30, 700);  // ~480 kB: more than the disk takes
  auto res = client.Post("/v1/jobs", read_file(big), "audio/mpeg");
  EXPECT_EQ(res->status, 503) << res->body;
  EXPECT_NE(res->body.find("disk"), std::string::npos) << res->body;
  EXPECT_TRUE(fs::is_empty(service.data / "storage" / "queue"));
  EXPECT_TRUE(fs::is_empty(service.data / "spool"));
  EXPECT_EQ(get_json(client, "/healthz")["status"], "ok");

  // A worker whose disk fills while it writes stems: retried, then failed with the reason.
  auto api = service.api->client();
  std::string id = submit_song(api, mp3_song(dir, 20, 800));
  service.workers.push_back(std::make_unique<WorkerProcess>(
      service.env, service.data / "full-worker.log",
      std::vector<std::string>{"/usr/bin/prlimit", "--fsize=400000", "--"}));
  auto job = wait_for_job(api, id, 120);
  EXPECT_EQ(job["status"], "failed");
  EXPECT_FALSE(job["error"].get<std::string>().empty());
  EXPECT_TRUE(service.workers[0]->running());  // the worker itself carries on
  EXPECT_EQ(get_json(api, "/v1/queue")["running"], 0);
}

TEST(Faults, AJobThatKillsItsWorkerEveryTimeEndsInDeadletter) {
  Service service({.workers = 1, .settings = {{"MSAAS_MAX_ATTEMPTS", "2"}}});
  auto client = service.api->client();
  TempDir dir;
  std::string id = submit_song(client, mp3_song(dir, 150, 900));
  for (int crash = 0; crash < 2; ++crash) {
    // Running its attempt number `crash`: then every worker dies, and a fresh one comes up,
    // whose reaper finds the job's lease expired.
    for (int i = 0; i < 3000; ++i) {
      auto job = get_json(client, "/v1/jobs/" + id);
      if (job["status"] == "running" && job["stage"] == "separating" && job["attempts"] == crash)
        break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    for (auto& worker : service.workers)
      if (worker->running()) worker->kill(SIGKILL);
    service.add_worker();
  }
  auto job = wait_for_job(client, id, 60);
  EXPECT_EQ(job["status"], "failed");
  EXPECT_EQ(job["attempts"], 2);
  EXPECT_NE(job.value("error", json("")).dump().find("lease expired"), std::string::npos) << job;
  EXPECT_EQ(queue::Redis(service.redis.url()).command({"LLEN", "deadletter"}).integer, 1);
}

}  // namespace
}  // namespace msaas::test

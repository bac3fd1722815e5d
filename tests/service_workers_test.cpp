// tests/service_workers_test.cpp: workers as a fleet: two sharing one queue, one killed with
// SIGKILL mid-job (the job still completes, once), one stopped with SIGTERM (it finishes its
// job first), and completion callbacks that never fail a job.
#include <signal.h>

#include <atomic>
#include <set>
#include <thread>

#include "queue/redis.h"
#include "service_support.h"

namespace msaas::test {
namespace {

using nlohmann::json;

std::string submit(httplib::Client& client, const fs::path& song) {
  auto res = client.Post("/v1/jobs", read_file(song), "audio/mpeg");
  EXPECT_TRUE(res && (res->status == 201 || res->status == 200));
  return json::parse(res->body)["id"];
}

fs::path song(const TempDir& dir, double seconds, double hz) {
  return make_tone(dir / ("song-" + std::to_string(hz) + ".mp3"), seconds, 44100, 2,
                   {"-c:a", "libmp3lame"}, hz);
}

// Waits until the job is separating (so a worker holds it mid-way).
void wait_until_separating(httplib::Client& client, const std::string& id) {
  for (int i = 0; i < 2000; ++i) {
    auto job = get_json(client, "/v1/jobs/" + id);
    if (job["stage"] == "separating") return;
    ASSERT_NE(job["status"], "done") << "the job finished before it could be interrupted";
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  FAIL() << "job " << id << " never started separating";
}

TEST(Workers, TwoWorkersShareTheQueue) {
  Service service(false, 2);
  auto client = service.api->client();
  TempDir dir;
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) ids.push_back(submit(client, song(dir, 40, 200 + 50 * i)));
  std::set<std::string> workers;
  for (const auto& id : ids) {
    auto job = wait_for_job(client, id);
    EXPECT_EQ(job["status"], "done");
    EXPECT_EQ(job["attempts"], 0);  // each ran once
    auto record = queue::Redis(service.redis.url()).command({"HGET", "job:" + id, "worker"});
    workers.insert(record.str);
  }
  EXPECT_EQ(workers.size(), 2u) << "both workers should have taken jobs";
}

TEST(Workers, AJobSurvivesItsWorkerBeingKilled) {
  Service service(false, 1);
  auto client = service.api->client();
  TempDir dir;
  std::string id = submit(client, song(dir, 150, 300));
  wait_until_separating(client, id);
  service.workers[0]->kill(SIGKILL);
  service.add_worker();  // the lease (2 s) runs out; the new worker's reaper returns the job
  auto job = wait_for_job(client, id);
  EXPECT_EQ(job["status"], "done") << job.dump();
  EXPECT_EQ(job["attempts"], 1);
  EXPECT_EQ(job["stems"].size(), 4u);
  auto bass = client.Get("/v1/jobs/" + id + "/stems/bass");
  EXPECT_EQ(bass->status, 200);
  EXPECT_GT(bass->body.size(), 100000u);
}

TEST(Workers, SigtermLetsTheWorkerFinishItsJob) {
  // An ample grace period, however busy the machine is.
  Service service(false, 1, {{"MSAAS_GRACE_SECONDS", "300"}});
  auto client = service.api->client();
  TempDir dir;
  std::string id = submit(client, song(dir, 60, 350));
  wait_until_separating(client, id);
  service.workers[0]->kill(SIGTERM);
  EXPECT_EQ(service.workers[0]->stop(30), 0);  // exits by itself, cleanly
  auto job = get_json(client, "/v1/jobs/" + id);
  EXPECT_EQ(job["status"], "done");
  EXPECT_EQ(job["attempts"], 0);
}

TEST(Workers, AJobPastTheGracePeriodIsHandedBack) {
  Service service(false, 1, {{"MSAAS_GRACE_SECONDS", "0"}});
  auto client = service.api->client();
  TempDir dir;
  std::string id = submit(client, song(dir, 150, 400));
  wait_until_separating(client, id);
  service.workers[0]->kill(SIGTERM);
  EXPECT_EQ(service.workers[0]->stop(30), 0);
  auto job = get_json(client, "/v1/jobs/" + id);
  EXPECT_EQ(job["status"], "queued");
  EXPECT_EQ(job["attempts"], 0);  // handing back is not a failure
  EXPECT_EQ(get_json(client, "/v1/queue")["waiting"], 1);
  service.env["MSAAS_GRACE_SECONDS"] = "5";
  service.add_worker();
  EXPECT_EQ(wait_for_job(client, id)["status"], "done");
}

TEST(Workers, CallbacksArePostedAndTheirFailureIsHarmless) {
  httplib::Server receiver;
  std::mutex mutex;
  std::vector<std::pair<std::string, std::string>> received;  // path, body
  receiver.Post(".*", [&](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(mutex);
    received.emplace_back(req.path, req.body);
    res.status = req.path == "/broken" ? 500 : 200;
  });
  int port = receiver.bind_to_any_port("127.0.0.1");
  std::thread serving([&] { receiver.listen_after_bind(); });
  std::string base = "http://127.0.0.1:" + std::to_string(port);

  Service service(false, 1);
  auto client = service.api->client();
  TempDir dir;
  auto a = song(dir, 3, 600), b = song(dir, 3, 700), c = song(dir, 3, 800);
  // Original API: the callback's data, as given.
  json body = {{"mp3", ""}, {"callback", {{"url", base + "/apiv1"}, {"data", {{"k", 7}}}}}};
  auto encoded = run({"base64", "-w0", a.string()}).out;
  body["mp3"] = encoded;
  ASSERT_EQ(client.Post("/apiv1/separate", body.dump(), "application/json")->status, 200);
  // /v1: a summary of the job.
  auto v1 = client.Post("/v1/jobs?callback_url=" + base + "/v1", read_file(b), "audio/mpeg");
  std::string v1_id = json::parse(v1->body)["id"];
  auto broken =
      client.Post("/v1/jobs?callback_url=" + base + "/broken", read_file(c), "audio/mpeg");
  std::string broken_id = json::parse(broken->body)["id"];
  EXPECT_EQ(wait_for_job(client, v1_id)["status"], "done");
  EXPECT_EQ(wait_for_job(client, broken_id)["status"], "done");  // a failing callback is harmless
  for (int i = 0; i < 100; ++i) {
    {
      std::lock_guard lock(mutex);
      if (received.size() >= 3) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  receiver.stop();
  serving.join();
  std::lock_guard lock(mutex);
  std::map<std::string, std::vector<std::string>> by_path;
  for (const auto& [path, text] : received) by_path[path].push_back(text);
  ASSERT_EQ(by_path["/apiv1"].size(), 1u);
  EXPECT_EQ(json::parse(by_path["/apiv1"][0]), json({{"k", 7}}));
  ASSERT_EQ(by_path["/v1"].size(), 1u);
  auto summary = json::parse(by_path["/v1"][0]);
  EXPECT_EQ(summary["id"], v1_id);
  EXPECT_EQ(summary["status"], "done");
  EXPECT_GE(by_path["/broken"].size(), 1u);  // tried (and retried) but the job is done anyway
}

}  // namespace
}  // namespace msaas::test

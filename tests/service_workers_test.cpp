// tests/service_workers_test.cpp: workers as a fleet: two sharing one queue, one killed with
// SIGKILL mid-job (the job still completes, once), one stopped with SIGTERM (it finishes its
// job first). Callbacks: tests/service_lifecycle_test.cpp.
#include <signal.h>

#include <atomic>
#include <set>
#include <thread>

#include "queue/redis.h"
#include "service_support.h"

namespace msaas::test {
namespace {

using nlohmann::json;

TEST(Workers, TwoWorkersShareTheQueue) {
  Service service({.workers = 2});
  auto client = service.api->client();
  TempDir dir;
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) ids.push_back(submit_song(client, mp3_song(dir, 40, 200 + 50 * i)));
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
  Service service({.workers = 1});
  auto client = service.api->client();
  TempDir dir;
  std::string id = submit_song(client, mp3_song(dir, 150, 300));
  wait_for_stage(client, id, "separating");
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
  Service service({.workers = 1, .settings = {{"MSAAS_GRACE_SECONDS", "300"}}});
  auto client = service.api->client();
  TempDir dir;
  std::string id = submit_song(client, mp3_song(dir, 60, 350));
  wait_for_stage(client, id, "separating");
  service.workers[0]->kill(SIGTERM);
  EXPECT_EQ(service.workers[0]->stop(30), 0);  // exits by itself, cleanly
  auto job = get_json(client, "/v1/jobs/" + id);
  EXPECT_EQ(job["status"], "done");
  EXPECT_EQ(job["attempts"], 0);
}

TEST(Workers, AJobPastTheGracePeriodIsHandedBack) {
  Service service({.workers = 1, .settings = {{"MSAAS_GRACE_SECONDS", "0"}}});
  auto client = service.api->client();
  TempDir dir;
  std::string id = submit_song(client, mp3_song(dir, 150, 400));
  wait_for_stage(client, id, "separating");
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

// Issue 17 (review): a worker that died leaves its scratch folder (up to ~14 GB for a long song);
// the next worker to start in the same work folder removes it, and never a live worker's.
TEST(Workers, AKilledWorkersScratchIsRemovedByTheNextOne) {
  Service service({.workers = 1});
  fs::path work = service.data / "work";
  auto locks = [&] {
    std::set<std::string> names;
    std::error_code missing;  // the folder appears when the first worker starts
    for (const auto& e : fs::directory_iterator(work, missing))
      if (e.path().extension() == ".lock") names.insert(e.path().stem().string());
    return names;
  };
  ASSERT_TRUE(eventually(20, [&] { return locks().size() == 1; }));
  std::string dead = *locks().begin();
  write_text(work / dead / "leftover", "bytes of a song");
  service.workers[0]->kill(SIGKILL);
  service.add_worker();
  service.add_worker();
  ASSERT_TRUE(eventually(20, [&] { return locks().size() == 2 && !locks().count(dead); }));
  EXPECT_FALSE(fs::exists(work / dead));
  for (const auto& live : locks()) EXPECT_TRUE(fs::is_directory(work / live)) << live;
}

}  // namespace
}  // namespace msaas::test

// tests/queue_test.cpp: the job queue against a real redis-server: idempotent enqueue, claim and
// complete, leases and the reaper, retries into the deadletter list, hand-back, deletion,
// expiry, and the logging list.
#include <unistd.h>

#include "queue_fixture.h"
#include "service/log.h"

namespace msaas::test {
namespace {

using nlohmann::json;

TEST_F(QueueTest, TheSameUploadAndSettingsAreOneJob) {
  auto first = jobs.enqueue(spec("aa"));
  auto again = jobs.enqueue(spec("aa"));
  auto other = jobs.enqueue(spec("aa", "wav"));
  EXPECT_TRUE(first.created);
  EXPECT_FALSE(again.created);
  EXPECT_EQ(again.id, first.id);
  EXPECT_EQ(again.status, "queued");
  EXPECT_NE(other.id, first.id);
  EXPECT_EQ(length("toWorker"), 2);
}

TEST_F(QueueTest, ClaimedJobsRunAndComplete) {
  auto id = jobs.enqueue(spec("bb")).id;
  auto claim = jobs.claim(blocking, "w1", 1);
  ASSERT_TRUE(claim);
  EXPECT_EQ(claim->spec.id, id);
  EXPECT_EQ(jobs.get(id)->status, "running");
  EXPECT_EQ(length("processing:w1"), 1);
  EXPECT_EQ(length("toWorker"), 0);
  EXPECT_TRUE(jobs.progress("w1", *claim, 40, "separating"));
  EXPECT_EQ(jobs.get(id)->progress, 40);
  EXPECT_TRUE(jobs.complete("w1", *claim, {{"zip", id + "/stems.zip"}}, {}));
  auto record = *jobs.get(id);
  EXPECT_EQ(record.status, "done");
  EXPECT_EQ(record.progress, 100);
  EXPECT_EQ(length("processing:w1"), 0);
  // Done jobs are not run again when the same upload comes back.
  EXPECT_FALSE(jobs.enqueue(spec("bb")).created);
  EXPECT_FALSE(jobs.claim(blocking, "w1", 0.1));
}

TEST_F(QueueTest, JobsAreTakenOldestFirst) {
  jobs.enqueue(spec("first"));
  jobs.enqueue(spec("second"));
  EXPECT_EQ(jobs.waiting()[0].hash, "first");
  EXPECT_EQ(jobs.claim(blocking, "w", 1)->spec.hash, "first");
  EXPECT_EQ(jobs.claim(blocking, "w", 1)->spec.hash, "second");
}

TEST_F(QueueTest, TheReaperReturnsJobsOfDeadWorkersThenDeadletters) {
  auto id = jobs.enqueue(spec("cc")).id;
  for (int attempt = 1; attempt <= 3; ++attempt) {
    auto claim = jobs.claim(blocking, "dead" + std::to_string(attempt), 1);
    ASSERT_TRUE(claim) << attempt;
    EXPECT_EQ(claim->spec.attempts, attempt - 1);
    EXPECT_EQ(reap_after_a_lease(), 1);  // no lease key: this worker is gone
    auto record = *jobs.get(id);
    EXPECT_EQ(record.attempts, attempt);
    if (attempt < 3) {
      EXPECT_EQ(record.status, "queued");
      EXPECT_EQ(length("toWorker"), 1);
    } else {
      EXPECT_EQ(record.status, "failed");
      EXPECT_NE(record.error.find("lease expired"), std::string::npos);
      EXPECT_EQ(length("toWorker"), 0);
      ASSERT_EQ(length("deadletter"), 1);
      auto dead = json::parse(pool.command({"LINDEX", "deadletter", "0"}).str);
      EXPECT_EQ(dead["job"]["id"], id);
    }
  }
}

TEST_F(QueueTest, LiveWorkersKeepTheirJobs) {
  jobs.enqueue(spec("dd"));
  jobs.heartbeat("alive");
  ASSERT_TRUE(jobs.claim(blocking, "alive", 1));
  EXPECT_EQ(jobs.reap(), 0);
  EXPECT_EQ(length("processing:alive"), 1);
  // When the beats stop, the lease runs out and the job goes back.
  sleep(2);
  EXPECT_EQ(reap_after_a_lease(), 1);
  EXPECT_EQ(length("toWorker"), 1);
}

TEST_F(QueueTest, RetriesWaitLongerEachTimeAndFailuresAreFinal) {
  auto id = jobs.enqueue(spec("ee")).id;
  jobs.enqueue(spec("later"));
  auto a = jobs.claim(blocking, "w", 1);
  jobs.retry("w", *a, "storage unreachable");
  auto record = *jobs.get(id);
  EXPECT_EQ(record.status, "queued");
  EXPECT_EQ(record.stage, "retrying");
  EXPECT_EQ(record.attempts, 1);
  EXPECT_EQ(record.error, "storage unreachable");
  // It waits (10 s, then 20 s ...) outside the queue; others go first meanwhile.
  EXPECT_EQ(length("toWorker"), 1);
  long long now = queue::now_seconds();
  EXPECT_EQ(jobs.promote_due(now + 5), 0);
  EXPECT_EQ(jobs.promote_due(now + 11), 1);
  auto b = jobs.claim(blocking, "w", 1);  // and then it is first in line
  ASSERT_EQ(b->spec.id, id);
  EXPECT_EQ(b->spec.attempts, 1);
  jobs.retry("w", *b, "storage unreachable");
  EXPECT_EQ(jobs.promote_due(now + 15), 0);  // the second wait is twice as long
  EXPECT_EQ(jobs.promote_due(now + 31), 1);
  auto c = jobs.claim(blocking, "w", 1);
  jobs.fail("w", *c, "not audio");
  EXPECT_EQ(jobs.get(id)->status, "failed");
  EXPECT_EQ(jobs.get(id)->error, "not audio");
  EXPECT_EQ(length("deadletter"), 0);  // a plain failure is not lost work
  // A failed job can be submitted again (a fixed worker may do better).
  EXPECT_TRUE(jobs.enqueue(spec("ee")).created);
}

TEST_F(QueueTest, AWorkerHandsBackWhatItLostTrackOf) {
  auto id = jobs.enqueue(spec("mm")).id;
  ASSERT_TRUE(jobs.claim(blocking, "w", 1));
  EXPECT_EQ(jobs.recover("w"), 1);
  EXPECT_EQ(length("processing:w"), 0);
  EXPECT_EQ(jobs.get(id)->status, "queued");
  EXPECT_EQ(jobs.claim(blocking, "w", 1)->spec.attempts, 0);
}

TEST_F(QueueTest, HandedBackJobsAreNextInLine) {
  jobs.enqueue(spec("gg"));
  jobs.enqueue(spec("hh"));
  auto claim = jobs.claim(blocking, "w", 1);
  ASSERT_EQ(claim->spec.hash, "gg");
  EXPECT_EQ(jobs.hand_back("w", *claim, "too long"), queue::HandBack::queued);
  auto again = jobs.claim(blocking, "w2", 1);
  EXPECT_EQ(again->spec.hash, "gg");
  EXPECT_EQ(again->spec.attempts, 0);
}

TEST_F(QueueTest, DeletedJobsLeaveTheQueueAndStopWorkers) {
  auto waiting = jobs.enqueue(spec("ii")).id;
  EXPECT_TRUE(jobs.remove(waiting));
  EXPECT_EQ(length("toWorker"), 0);
  EXPECT_FALSE(jobs.get(waiting));

  auto running = jobs.enqueue(spec("jj")).id;
  auto claim = jobs.claim(blocking, "w", 1);
  jobs.remove(running);
  EXPECT_FALSE(jobs.progress("w", *claim, 50, "separating"));
  EXPECT_FALSE(jobs.fail("w", *claim, "deleted"));
  EXPECT_EQ(length("processing:w"), 0);
  EXPECT_FALSE(jobs.get(running));  // finishing does not bring the record back
}

TEST_F(QueueTest, FinishedJobsExpire) {
  auto id = jobs.enqueue(spec("kk")).id;
  auto claim = jobs.claim(blocking, "w", 1);
  jobs.complete("w", *claim, {{"zip", "z"}}, {});
  EXPECT_EQ(jobs.take_expired(queue::now_seconds()), 0);
  EXPECT_EQ(jobs.take_expired(queue::now_seconds() + 3601), 1);
  EXPECT_FALSE(jobs.get(id));
  // Its files are trash now, listed until they are deleted.
  EXPECT_TRUE(trash_has("output:z"));
  EXPECT_TRUE(trash_has("upload:kk-0123456789abcdef.mp3"));
}

// Issue 17, item 1: failing schedules the record's deletion; submitting the same job again
// must call it off, or at the old time the new record, its queue entry and its upload go.
TEST_F(QueueTest, AResubmittedFailedJobIsNotDeletedByTheOldExpiry) {
  auto id = jobs.enqueue(spec("ll")).id;
  jobs.fail("w", *jobs.claim(blocking, "w", 1), "broken upload");
  auto again = jobs.enqueue(spec("ll"));
  EXPECT_TRUE(again.created);
  EXPECT_EQ(jobs.take_expired(queue::now_seconds() + 3601), 0);
  ASSERT_TRUE(jobs.get(id));
  EXPECT_EQ(jobs.get(id)->status, "queued");
  EXPECT_EQ(length("toWorker"), 1);
  // Its own end schedules its own expiry.
  jobs.complete("w", *jobs.claim(blocking, "w", 1), {{"zip", "z"}}, {});
  EXPECT_EQ(jobs.take_expired(queue::now_seconds() + 3601), 1);
}

// Issue 17, item 7: a job acknowledged (a 201 follows enqueue) survives Redis dying at once,
// with no shutdown. (Deployed with --appendfsync always, as here, it also survives the machine
// losing power; that part cannot be shown on one machine: a process crash keeps what Redis
// wrote to the kernel even with everysec.)
// The same, when the resubmission lands between the reaper reading the due ids and removing
// them: the removal must see that the job is no longer due.
TEST_F(QueueTest, AResubmissionBetweenReadingAndRemovingTheDueIdsIsKept) {
  auto id = jobs.enqueue(spec("mm")).id;
  jobs.fail("w", *jobs.claim(blocking, "w", 1), "broken upload");
  auto due = pool.command({"ZRANGEBYSCORE", "expiries", "-inf", "+inf"});  // read as due ...
  ASSERT_EQ(due.elements.size(), 1u);
  EXPECT_TRUE(jobs.enqueue(spec("mm")).created);                         // ... submitted again ...
  EXPECT_FALSE(jobs.expire(due.elements[0].str, queue::now_seconds()));  // ... and not removed
  ASSERT_TRUE(jobs.get(id));
  EXPECT_EQ(length("toWorker"), 1);
}

TEST(QueueDurability, AcknowledgedJobsSurviveARedisCrash) {
  RedisServer redis(Persistence::append_only);
  queue::RedisPool pool(redis.url());
  queue::JobQueue jobs(pool, queue::QueueSettings{});
  std::vector<std::string> ids;
  for (int i = 0; i < 50; ++i) {
    queue::JobSpec s;
    s.hash = "d" + std::to_string(i);
    s.upload = s.hash + ".mp3";
    s.id = queue::job_id(s.hash, s.settings);
    ids.push_back(jobs.enqueue(s).id);
  }
  redis.crash();
  redis.start();
  for (const auto& id : ids) EXPECT_TRUE(jobs.get(id)) << id;
  EXPECT_EQ(pool.command({"LLEN", "toWorker"}).integer, 50);
}

TEST_F(QueueTest, LogLinesGoToTheLoggingList) {
  service::init_logging("msaas-test", &pool);
  service::log_warning("disk almost full");
  service::init_logging("msaas-test", nullptr);
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  EXPECT_EQ(pool.command({"LINDEX", "logging", "0"}).str,
            std::string(host) + ".msaas-test.warning:disk almost full");
}

TEST(RedisUrl, ParsesAndRejects) {
  auto a = queue::parse_redis_url("redis://:secret@redis.example:6380/2");
  EXPECT_EQ(a.host, "redis.example");
  EXPECT_EQ(a.port, 6380);
  EXPECT_EQ(a.password, "secret");
  EXPECT_EQ(a.db, 2);
  expect_error<queue::RedisError>([] { queue::parse_redis_url("http://x"); }, "bad Redis URL");
  expect_error<queue::RedisError>([] { queue::Redis("redis://127.0.0.1:1").command({"PING"}); },
                                  "cannot reach Redis");
}

}  // namespace
}  // namespace msaas::test

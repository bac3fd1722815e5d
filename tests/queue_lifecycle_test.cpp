// tests/queue_lifecycle_test.cpp: issue 17 on a real redis-server with the real Lua scripts: a
// job changes only at the hands of the run that owns it, the reaper spares live workers after a
// Redis outage, hand-backs are bounded, each submission owns its upload and every file a job
// stops owning is listed as trash, and callbacks leave once per submission, on success and on
// failure, with the caller's data as given.
#include "queue/outbox.h"
#include "queue/trash.h"
#include "queue_fixture.h"
#include "service/file_sweeper.h"

namespace msaas::test {
namespace {

class QueueLifecycleTest : public QueueTest {
 protected:
  queue::Trash trash{pool};
  queue::Outbox outbox{pool};
  double trash_due(const std::string& member) {
    auto score = pool.command({"ZSCORE", "trash", member});
    return score.is_nil() ? -1 : std::stod(score.str);
  }
  std::vector<queue::OutboxEntry> callbacks() { return outbox.take_due(1LL << 40, 100, 0); }
};

// Item 3: the reaper gives a slow worker's job to another; the slow one finishing later must
// change nothing: no done -> running -> done, no second count, no second callback.
TEST_F(QueueLifecycleTest, AWorkerThatLostItsJobCannotChangeIt) {
  auto s = spec("own");
  s.callback_url = "http://client.example/cb";
  auto id = jobs.enqueue(s).id;
  auto slow = jobs.claim(blocking, "slow", 1);
  ASSERT_TRUE(slow);
  EXPECT_EQ(slow->run, 1);
  ASSERT_EQ(reap_after_a_lease(), 1);  // "slow" never beat: its lease is gone
  auto fast = jobs.claim(blocking, "fast", 1);
  ASSERT_TRUE(fast);
  EXPECT_EQ(fast->run, 2);
  EXPECT_FALSE(jobs.progress("slow", *slow, 50, "separating"));
  EXPECT_TRUE(jobs.progress("fast", *fast, 10, "separating"));
  EXPECT_TRUE(jobs.complete("fast", *fast, {{"zip", id + "/2/stems.zip"}}, {}));
  EXPECT_FALSE(jobs.complete("slow", *slow, {{"zip", id + "/1/stems.zip"}}, {}));
  EXPECT_FALSE(jobs.fail("slow", *slow, "late"));
  auto record = *jobs.get(id);
  EXPECT_EQ(record.status, "done");
  EXPECT_EQ(record.zip, id + "/2/stems.zip");
  EXPECT_EQ(record.worker, "fast");
  EXPECT_EQ(record.starts, 2);
  EXPECT_EQ(pool.command({"HGET", "stats", "done"}).str, "1");
  EXPECT_EQ(callbacks().size(), 1u);
}

// Item 3: a message that is not the job's current one (a duplicate, or one of a job that is
// already running or done) is dropped by start instead of running the job a second time.
TEST_F(QueueLifecycleTest, AStaleMessageDoesNotStartAJobAgain) {
  auto id = jobs.enqueue(spec("stale")).id;
  auto first = jobs.claim(blocking, "w1", 1);
  ASSERT_TRUE(first);
  pool.command({"LPUSH", "toWorker", first->message});  // a copy of a running job's message
  EXPECT_FALSE(jobs.claim(blocking, "w2", 1));
  EXPECT_EQ(length("processing:w2"), 0);
  EXPECT_TRUE(jobs.complete("w1", *first, {}, {}));
  pool.command({"LPUSH", "toWorker", first->message});  // and of a done one
  EXPECT_FALSE(jobs.claim(blocking, "w2", 1));
  EXPECT_EQ(jobs.get(id)->status, "done");
  EXPECT_EQ(jobs.get(id)->starts, 1);
}

// Item 3: after an outage longer than the lease every lease key is gone at once. Workers that
// beat again within a lease keep their jobs; one that stays silent loses its.
TEST_F(QueueLifecycleTest, LiveWorkersKeepTheirJobsAfterARedisOutage) {
  jobs.enqueue(spec("out1"));
  jobs.enqueue(spec("out2"));
  jobs.heartbeat("alive");
  ASSERT_TRUE(jobs.claim(blocking, "alive", 1));
  ASSERT_TRUE(jobs.claim(blocking, "silent", 1));
  pool.command({"DEL", "lease:alive"});   // as Redis comes back after the outage
  EXPECT_EQ(jobs.reap(), 0);              // first look: both suspected, none taken
  for (int beat = 0; beat < 3; ++beat) {  // the live one beats every third of a lease
    jobs.heartbeat("alive");
    usleep(400 * 1000);
  }
  pool.command({"DEL", "reaper:lock"});
  EXPECT_EQ(jobs.reap(), 1);  // only the silent worker's job goes back
  EXPECT_EQ(length("processing:alive"), 1);
  EXPECT_EQ(length("processing:silent"), 0);
}

// Item 4: hand-backs (a worker stopped before its grace period ran out) are free twice; after
// that each one counts as a failed attempt, so a song no worker can finish in time ends failed
// with the reason instead of restarting forever.
TEST_F(QueueLifecycleTest, HandBacksAreBounded) {
  auto id = jobs.enqueue(spec("long")).id;
  std::vector<queue::HandBack> seen;
  for (int stop = 1; stop <= 6; ++stop) {
    auto claim = jobs.claim(blocking, "w", 1);
    if (!claim) break;
    seen.push_back(jobs.hand_back("w", *claim, "grace period too short for this song"));
    jobs.promote_due(queue::now_seconds());
  }
  using queue::HandBack;
  std::vector<HandBack> expected{HandBack::queued, HandBack::queued, HandBack::counted_as_attempt,
                                 HandBack::counted_as_attempt, HandBack::counted_as_attempt};
  EXPECT_EQ(seen, expected);
  auto record = *jobs.get(id);
  EXPECT_EQ(record.status, "failed");
  EXPECT_EQ(record.error, "grace period too short for this song");
  EXPECT_EQ(length("deadletter"), 1);
}

// Item 2: two jobs of one song (other settings) each own their upload; removing one lists only
// its own files as trash, at once, and the other's upload stays.
TEST_F(QueueLifecycleTest, EachJobOwnsItsUploadAndItsFilesBecomeTrash) {
  auto a = spec("song");
  a.upload = "song-1111111111111111.mp3";
  auto b = spec("song", "wav");
  b.upload = "song-2222222222222222.mp3";
  trash.hold(queue::FileKind::upload, a.upload, queue::now_seconds() + 3600);
  trash.hold(queue::FileKind::upload, b.upload, queue::now_seconds() + 3600);
  jobs.enqueue(a);
  jobs.enqueue(b);
  EXPECT_FALSE(trash_has("upload:song-1111111111111111.mp3"));  // taken by its job: no longer held
  EXPECT_FALSE(trash_has("upload:song-2222222222222222.mp3"));
  auto claim = jobs.claim(blocking, "w", 1);
  ASSERT_EQ(claim->spec.id, a.id);
  json outputs = json::array({{{"name", "vocals"}, {"key", a.id + "/1/vocals.mp3"}}});
  jobs.complete("w", *claim, {{"outputs", outputs.dump()}, {"zip", a.id + "/1/stems.zip"}}, {});
  jobs.remove(a.id);
  long long now = queue::now_seconds();
  for (const std::string& member : std::vector<std::string>{"upload:song-1111111111111111.mp3",
                                                            "output:" + a.id + "/1/vocals.mp3",
                                                            "output:" + a.id + "/1/stems.zip"})
    EXPECT_LE(trash_due(member), now) << member;
  EXPECT_FALSE(trash_has("upload:song-2222222222222222.mp3"));
  auto due = trash.take_due(now, 100, 300);
  EXPECT_EQ(due.size(), 3u);
  EXPECT_TRUE(trash.take_due(now, 100, 300).empty());  // taken: not handed out twice
}

// Item 2: asking with no upload joins an existing job and asks for one otherwise; an upload
// stored for a job that already exists is trash at once; a failed job's old upload goes when
// it starts over with a new one.
TEST_F(QueueLifecycleTest, UploadsAreStoredOnlyWhenAJobNeedsThem) {
  auto s = spec("ask");
  s.upload = "";
  EXPECT_EQ(jobs.enqueue(s).status, "needs-upload");
  s.upload = "ask-1111111111111111.mp3";
  EXPECT_TRUE(jobs.enqueue(s).created);
  s.upload = "";
  EXPECT_EQ(jobs.enqueue(s).status, "queued");
  s.upload = "ask-2222222222222222.mp3";  // a race: another submission stored one meanwhile
  trash.hold(queue::FileKind::upload, s.upload, queue::now_seconds() + 3600);
  EXPECT_FALSE(jobs.enqueue(s).created);
  EXPECT_LE(trash_due("upload:ask-2222222222222222.mp3"), queue::now_seconds());
  jobs.fail("w", *jobs.claim(blocking, "w", 1), "broken");
  s.upload = "ask-3333333333333333.mp3";
  EXPECT_TRUE(jobs.enqueue(s).created);
  EXPECT_LE(trash_due("upload:ask-1111111111111111.mp3"), queue::now_seconds());
  EXPECT_EQ(jobs.get(s.id)->upload, "ask-3333333333333333.mp3");
}

// Item 9: a run's stems held while they upload stop being trash when it completes; a run that
// lost its job keeps them listed, to be deleted.
TEST_F(QueueLifecycleTest, ARunsStemsAreTrashUnlessItCompletes) {
  auto id = jobs.enqueue(spec("stems")).id;
  auto claim = jobs.claim(blocking, "w", 1);
  std::string kept = queue::trash_member(queue::FileKind::output, id + "/1/vocals.mp3");
  trash.hold(queue::FileKind::output, id + "/1/vocals.mp3", queue::now_seconds() + 3600);
  EXPECT_TRUE(jobs.complete("w", *claim, {}, {kept}));
  EXPECT_FALSE(trash_has(kept));

  auto other = jobs.enqueue(spec("stems", "wav")).id;
  auto lost = jobs.claim(blocking, "w", 1);
  std::string dropped = queue::trash_member(queue::FileKind::output, other + "/1/vocals.wav");
  trash.hold(queue::FileKind::output, other + "/1/vocals.wav", queue::now_seconds() + 3600);
  jobs.remove(other);  // deleted while it ran
  EXPECT_FALSE(jobs.complete("w", *lost, {}, {dropped}));
  EXPECT_TRUE(trash_has(dropped));
  trash.release({dropped});
  EXPECT_LE(trash_due(dropped), queue::now_seconds());
}

// Item 8: every submission's callback leaves once when the job ends, done or failed (also
// through the deadletter list), one sent at once for a job already done, none for a deleted
// job; the caller's data survives retries byte for byte (Lua's cjson would turn [] into {} and
// round 12345678901234567).
TEST_F(QueueLifecycleTest, CallbacksLeaveOncePerSubmissionWithTheirDataAsGiven) {
  auto s = spec("cb");
  s.api = "apiv1";
  s.callback_url = "http://a.example/";
  s.callback_data =
      R"({ "list" : [ ], "big": 123456789012345678901234567890, "f": 1.50, "u": "\u00e9" })";
  auto id = jobs.enqueue(s).id;
  auto second = spec("cb");
  second.callback_url = "http://b.example/";
  second.upload = "";
  EXPECT_EQ(jobs.enqueue(second).status, "queued");
  EXPECT_TRUE(callbacks().empty());  // nothing before the end
  auto claim = jobs.claim(blocking, "w", 1);
  jobs.retry("w", *claim, "storage away");  // the message goes through cjson here
  jobs.promote_due(queue::now_seconds() + 3600);
  claim = jobs.claim(blocking, "w", 1);
  json outputs = json::array({{{"name", "vocals"}, {"key", id + "/2/vocals.mp3"}}});
  EXPECT_TRUE(jobs.complete("w", *claim, {{"outputs", outputs.dump()}}, {}));
  auto sent = callbacks();
  ASSERT_EQ(sent.size(), 2u);
  for (const auto& e : sent) {
    EXPECT_EQ(e.job_id, id);
    EXPECT_EQ(e.ending["status"], "done");
    EXPECT_EQ(e.ending["outputs"], outputs);
  }
  EXPECT_EQ(sent[0].api, "apiv1");
  EXPECT_EQ(sent[0].data, s.callback_data);  // byte for byte
  EXPECT_EQ(sent[1].url, "http://b.example/");
  EXPECT_EQ(sent[1].api, "v1");
  for (const auto& e : sent) outbox.forget(e.member);

  // Already done: sent at once, and the job is kept a whole retention period from now.
  pool.command({"ZADD", "expiries", std::to_string(queue::now_seconds() + 5), id});
  auto late = spec("cb");
  late.callback_url = "http://c.example/";
  EXPECT_EQ(jobs.enqueue(late).status, "done");
  EXPECT_EQ(jobs.enqueue(late).status, "done");  // the same callback twice is two callbacks
  EXPECT_EQ(callbacks().size(), 2u);
  EXPECT_GE(std::stoll(pool.command({"ZSCORE", "expiries", id}).str),
            queue::now_seconds() + 3600 - 5);
  for (const auto& e : callbacks()) outbox.forget(e.member);

  auto dead = spec("cb-dead");
  dead.callback_url = "http://d.example/";
  jobs.enqueue(dead);
  for (int i = 0; i < 3; ++i) {
    auto c = jobs.claim(blocking, "w", 1);
    jobs.retry("w", *c, "storage away");
    jobs.promote_due(queue::now_seconds() + 3600);
  }
  EXPECT_EQ(jobs.get(dead.id)->status, "failed");
  auto failed = callbacks();
  ASSERT_EQ(failed.size(), 1u);  // a failure calls back too, with its reason
  EXPECT_EQ(failed[0].ending["status"], "failed");
  EXPECT_EQ(failed[0].ending["error"], "storage away");
  // What the callback says does not change when the job does (here: submitted again).
  dead.upload = "cb-dead-1111111111111111.mp3";
  EXPECT_TRUE(jobs.enqueue(dead).created);
  EXPECT_EQ(callbacks()[0].ending["status"], "failed");
  for (const auto& e : callbacks()) outbox.forget(e.member);

  auto gone = spec("cb-gone");
  gone.callback_url = "http://e.example/";
  jobs.enqueue(gone);
  jobs.remove(gone.id);
  EXPECT_EQ(pool.command({"EXISTS", "callbacks:" + gone.id}).integer, 0);
}

// Item 3 (review): run numbers never repeat, even for a job deleted and submitted again, so an
// old run still storing cannot share (or give away) the stems folder of the new one.
TEST_F(QueueLifecycleTest, RunNumbersNeverRepeat) {
  auto id = jobs.enqueue(spec("runs")).id;
  auto first = jobs.claim(blocking, "w", 1);
  jobs.remove(id);
  jobs.enqueue(spec("runs"));
  auto second = jobs.claim(blocking, "w2", 1);
  ASSERT_TRUE(first && second);
  EXPECT_NE(first->run, second->run);
}

// A reaper's sighting of a missing lease goes stale: one from long ago (the worker came back
// since) does not let a later outage take a live worker's job at the first look.
TEST_F(QueueLifecycleTest, AnOldSightingOfAMissingLeaseIsNotCounted) {
  jobs.enqueue(spec("stale-sighting"));
  ASSERT_TRUE(jobs.claim(blocking, "w", 1));
  pool.command({"HSET", "reaper:suspects", "w", "1000"});  // seen missing long ago
  EXPECT_EQ(jobs.reap(), 0);
  EXPECT_EQ(length("processing:w"), 1);
}

// Upgrading: a message from before callbacks were kept apart still gets its callback; an upload
// named the old way (one object per song, shared by its jobs) is never deleted with one job.
TEST_F(QueueLifecycleTest, JobsFromBeforeTheUpgradeKeepTheirCallbackAndSharedUpload) {
  auto s = spec("legacy");
  s.upload = "legacy.mp3";
  auto id = jobs.enqueue(s).id;
  json old = json::parse(pool.command({"HGET", "job:" + id, "message"}).str);
  old["callback"] = {{"url", "http://old.example/"}};
  pool.command({"HSET", "job:" + id, "message", old.dump()});
  pool.command({"LSET", "toWorker", "0", old.dump()});
  auto claim = jobs.claim(blocking, "w", 1);
  ASSERT_TRUE(claim);
  EXPECT_TRUE(jobs.complete("w", *claim, {}, {}));
  auto sent = callbacks();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].url, "http://old.example/");
  jobs.remove(id);
  EXPECT_FALSE(trash_has("upload:legacy.mp3"));
}

// Review: an expiry read as due must not remove a done job that a new submission joined in
// between (the join keeps it a whole retention period from then).
TEST_F(QueueLifecycleTest, AnExpiryDoesNotRemoveADoneJobJustJoined) {
  auto id = jobs.enqueue(spec("joined")).id;
  jobs.complete("w", *jobs.claim(blocking, "w", 1), {}, {});
  pool.command({"ZADD", "expiries", "100", id});  // long due
  auto again = spec("joined");
  again.upload = "";
  again.callback_url = "http://a.example/";
  EXPECT_EQ(jobs.enqueue(again).status, "done");        // joined after the due ids were read ...
  EXPECT_FALSE(jobs.expire(id, queue::now_seconds()));  // ... and not removed
  EXPECT_TRUE(jobs.get(id));
}

// Review: a finish whose reply was lost and that is run again reports it ran, changing nothing.
TEST_F(QueueLifecycleTest, FinishingTwiceIsFinishingOnce) {
  jobs.enqueue(spec("twice"));
  auto claim = jobs.claim(blocking, "w", 1);
  EXPECT_TRUE(jobs.complete("w", *claim, {}, {}));
  EXPECT_TRUE(jobs.complete("w", *claim, {}, {}));
  EXPECT_EQ(pool.command({"HGET", "stats", "done"}).str, "1");
}

// Review: jobs given back untouched (lost track of, or taken as the worker stopped) do not use
// up the free hand-backs.
TEST_F(QueueLifecycleTest, GivingBackUntouchedJobsIsFree) {
  jobs.enqueue(spec("free"));
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(jobs.claim(blocking, "w", 1));
    EXPECT_EQ(jobs.recover("w"), 1);
  }
  jobs.give_back("w", *jobs.claim(blocking, "w", 1));
  auto claim = jobs.claim(blocking, "w", 1);
  EXPECT_EQ(claim->spec.handbacks, 0);
  EXPECT_EQ(jobs.hand_back("w", *claim, "too long"), queue::HandBack::queued);
}

// Review: a job removed and submitted again is a new generation: callbacks of the old one's end
// still waiting in the outbox are told apart from it (the worker drops them).
TEST_F(QueueLifecycleTest, AJobMadeAgainIsANewGeneration) {
  auto s = spec("generation");
  s.callback_url = "http://a.example/";
  auto id = jobs.enqueue(s).id;
  jobs.complete("w", *jobs.claim(blocking, "w", 1), {}, {});
  auto pending = callbacks();
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].generation, jobs.get(id)->generation);
  jobs.remove(id);
  jobs.enqueue(spec("generation"));
  EXPECT_NE(pending[0].generation, jobs.get(id)->generation);
  jobs.complete("w", *jobs.claim(blocking, "w", 1), {}, {});
  // A failed job starting over keeps its generation: its failure's callback still counts.
  auto failing = spec("generation-failed");
  jobs.enqueue(failing);
  jobs.fail("w", *jobs.claim(blocking, "w", 1), "broken");
  long long before = jobs.get(failing.id)->generation;
  failing.upload = "generation-failed-1111111111111111.mp3";
  EXPECT_TRUE(jobs.enqueue(failing).created);
  EXPECT_EQ(jobs.get(failing.id)->generation, before);
}

// Item 9: files are deleted after the record is gone, from the trash; a deletion that fails
// (storage away) leaves the file listed, to be tried again, instead of orphaning it.
TEST_F(QueueLifecycleTest, AFailedDeletionStaysListedAndIsTriedAgain) {
  TempDir dir;
  service::ServiceConfig config;
  config.storage.backend = "fs";
  config.storage.root = (dir / "storage").string();
  auto storage = storage::make_storage(config.storage);
  storage->ensure_bucket(config.output_bucket);
  write_text(dir / "stem", "stem bytes");
  storage->put_file(config.output_bucket, "job/1/vocals.mp3", (dir / "stem").string(),
                    "audio/mpeg");
  trash.hold(queue::FileKind::output, "job/1/vocals.mp3", queue::now_seconds());
  std::string member = "output:job/1/vocals.mp3";

  service::ServiceConfig away = config;
  away.storage.backend = "s3";
  away.storage.endpoint = "http://127.0.0.1:1";
  away.storage.access_key = "k";
  away.storage.secret_key = "s";
  auto unreachable = storage::make_storage(away.storage);
  EXPECT_EQ(service::sweep_trash(trash, *unreachable, away), 0);
  EXPECT_GT(trash_due(member), queue::now_seconds() + 60);  // listed, for later
  EXPECT_TRUE(storage->size(config.output_bucket, "job/1/vocals.mp3"));

  pool.command({"ZADD", "trash", "0", member});  // its time comes again
  EXPECT_EQ(service::sweep_trash(trash, *storage, config), 1);
  EXPECT_FALSE(trash_has(member));
  EXPECT_FALSE(storage->size(config.output_bucket, "job/1/vocals.mp3"));
}

}  // namespace
}  // namespace msaas::test

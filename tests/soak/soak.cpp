// tests/soak/soak.cpp: msaas-soak, the queue's promise under faults (issue 17), outside the unit
// suite (`make soak`). Real programs: redis-server (append-only, fsync always), the verifying S3
// peer, msaas-api and two msaas-worker with the tiny test models. It submits N short songs, each
// with a callback, while it kills a random worker with SIGKILL every few seconds (and starts a
// new one), kills Redis once with SIGKILL and restarts it, and stalls S3 (SIGSTOP) for longer
// than a lease. Then it checks, job by job: done, completed once (the `done` counter), never
// seen going back from done, at least one callback (at least once by design; duplicates are
// counted), nothing in deadletter, and every stored object owned by a job or listed as trash.
// Prints the figures; exits 1 when a promise was broken.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <iostream>
#include <mutex>
#include <random>
#include <thread>

#include "queue/redis.h"
#include "service_support.h"

namespace msaas::test {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

struct Options {
  int jobs = 200;
  double song_seconds = 10;
  double kill_every_s = 3;
  int lease_s = 2;
};

// Callback bodies received, by job id.
struct Callbacks {
  httplib::Server server;
  std::thread serving;
  std::mutex mutex;
  std::map<std::string, int> by_job;
  std::string url;
  Callbacks() {
    server.Post("/cb", [this](const httplib::Request& req, httplib::Response&) {
      auto body = json::parse(req.body, nullptr, false);
      std::lock_guard lock(mutex);
      ++by_job[body.is_object() ? body.value("id", "?") : "?"];
    });
    int port = server.bind_to_any_port("127.0.0.1");
    serving = std::thread([this] { server.listen_after_bind(); });
    url = "http://127.0.0.1:" + std::to_string(port) + "/cb";
  }
  ~Callbacks() {
    server.stop();
    serving.join();
  }
};

// Watches every job's status; remembers jobs seen leaving `done`.
struct StatusWatch {
  std::mutex mutex;
  std::map<std::string, std::string> last;
  std::set<std::string> went_back;
  void look(queue::Redis& redis, const std::vector<std::string>& ids) {
    for (const auto& id : ids) {
      std::string status = redis.command({"HGET", "job:" + id, "status"}).str;
      std::lock_guard lock(mutex);
      if (last[id] == "done" && status != "done") went_back.insert(id);
      last[id] = status;
    }
  }
};

std::string submit(httplib::Client& client, const fs::path& song, const std::string& callback) {
  std::string body = read_file(song);
  for (int attempt = 0; attempt < 200; ++attempt) {  // a client retries a 503 (Redis away)
    auto res = client.Post("/v1/jobs?callback_url=" + callback, body, "audio/mpeg");
    if (res && (res->status == 201 || res->status == 200))
      return json::parse(res->body)["id"].get<std::string>();
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return "";
}

int soak(const Options& o) {
  auto started = Clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - started).count(); };
  Callbacks callbacks;
  Service service({.storage = Storage::s3,
                   .workers = 0,
                   .settings = {{"MSAAS_LEASE_SECONDS", std::to_string(o.lease_s)},
                                {"MSAAS_MAX_ATTEMPTS", "20"},
                                {"MSAAS_RETRY_BACKOFF_SECONDS", "1"},
                                {"MSAAS_GRACE_SECONDS", "2"},
                                {"MSAAS_RATE_LIMIT", "0"}}});
  TempDir songs;
  std::vector<fs::path> files;
  for (int i = 0; i < o.jobs; ++i)
    files.push_back(make_tone(songs / ("song-" + std::to_string(i) + ".mp3"), o.song_seconds, 44100,
                              2, {"-c:a", "libmp3lame"}, 150 + 3 * i));
  std::cout << "soak: " << o.jobs << " songs of " << o.song_seconds << " s made in " << elapsed()
            << " s\n";
  service.add_worker();
  service.add_worker();
  started = Clock::now();  // the faults' times count from here

  std::vector<std::string> ids;
  std::mutex ids_mutex;
  std::atomic<bool> submitted{false}, stop_watch{false};
  std::thread submitter([&] {
    auto client = service.api->client();
    client.set_read_timeout(30, 0);
    for (const auto& file : files) {
      std::string id = submit(client, file, callbacks.url);
      std::lock_guard lock(ids_mutex);
      if (!id.empty()) ids.push_back(id);
    }
    submitted = true;
  });
  StatusWatch watch;
  std::thread watcher([&] {
    while (!stop_watch) {
      std::vector<std::string> now;
      {
        std::lock_guard lock(ids_mutex);
        now = ids;
      }
      try {
        queue::Redis redis(service.redis.url(), 2);
        watch.look(redis, now);
      } catch (const std::exception&) {  // Redis down for a moment: look again later
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  });

  std::mt19937 random(12345);
  int worker_kills = 0;
  bool redis_crashed = false, s3_stalled = false;
  auto all_ended = [&] {
    if (!submitted) return false;
    std::lock_guard lock(watch.mutex);
    for (const auto& id : ids)
      if (watch.last[id] != "done" && watch.last[id] != "failed") return false;
    return true;
  };
  double next_kill = o.kill_every_s;
  while (!all_ended() && elapsed() < 1800) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    if (elapsed() > next_kill) {
      size_t victim = random() % service.workers.size();
      service.workers[victim]->kill(SIGKILL);
      service.workers[victim] = std::make_unique<WorkerProcess>(
          service.env, service.data / ("worker-respawn-" + std::to_string(worker_kills) + ".log"));
      ++worker_kills;
      next_kill = elapsed() + o.kill_every_s;
    }
    if (!redis_crashed && elapsed() > 8) {
      std::cout << "soak: Redis SIGKILL at " << elapsed() << " s\n";
      service.redis.crash();
      std::this_thread::sleep_for(std::chrono::seconds(1));
      service.redis.start();
      redis_crashed = true;
    }
    if (!s3_stalled && elapsed() > 20) {
      // Longer than a lease and than the workers' 20 s deadline on each deletion.
      std::cout << "soak: S3 stalled for 25 s at " << elapsed() << " s\n";
      service.s3->freeze();
      std::this_thread::sleep_for(std::chrono::seconds(25));
      service.s3->thaw();
      s3_stalled = true;
    }
  }
  double separating = elapsed();
  submitter.join();
  // Callbacks still due, and trash still being swept: give the workers a little time.
  std::this_thread::sleep_for(std::chrono::seconds(4 * o.lease_s));
  stop_watch = true;
  watcher.join();

  queue::Redis redis(service.redis.url());
  int done = 0, failed = 0, runs = 0, missing_callbacks = 0, duplicate_callbacks = 0;
  std::set<std::string> owned_uploads, owned_outputs;
  for (const auto& id : ids) {
    auto status = redis.command({"HGET", "job:" + id, "status"}).str;
    done += status == "done";
    failed += status == "failed";
    if (status != "done") std::cout << "soak: job " << id << " ended " << status << "\n";
    runs += std::atoi(redis.command({"HGET", "job:" + id, "starts"}).str.c_str());
    owned_uploads.insert(redis.command({"HGET", "job:" + id, "upload"}).str);
    auto outputs = json::parse(redis.command({"HGET", "job:" + id, "outputs"}).str, nullptr, false);
    if (outputs.is_array())
      for (const auto& out : outputs) owned_outputs.insert(out.value("key", ""));
    int calls = callbacks.by_job[id];
    missing_callbacks += calls == 0;
    duplicate_callbacks += std::max(0, calls - 1);
  }
  long long completed = std::atoll(redis.command({"HGET", "stats", "done"}).str.c_str());
  long long deadletter = redis.command({"LLEN", "deadletter"}).integer;
  int orphans = 0, in_trash = 0;
  for (const auto& [bucket, owned, kind] :
       {std::tuple{"queue", &owned_uploads, "upload:"}, {"output", &owned_outputs, "output:"}})
    for (const auto& key : service.s3->keys(bucket)) {
      if (owned->count(key)) continue;
      if (!redis.command({"ZSCORE", "trash", std::string(kind) + key}).is_nil()) {
        ++in_trash;
        continue;
      }
      ++orphans;
      std::cout << "soak: " << bucket << "/" << key << " is owned by no job and not in the trash\n";
    }

  std::cout << "soak: accepted " << ids.size() << " of " << o.jobs << " jobs; done " << done
            << ", failed " << failed << " in " << separating << " s\n"
            << "soak: faults: " << worker_kills << " worker SIGKILLs, Redis SIGKILL + restart "
            << (redis_crashed ? "yes" : "no") << ", S3 stalled " << (s3_stalled ? "yes" : "no")
            << "\n"
            << "soak: runs " << runs << " (" << runs - static_cast<int>(ids.size())
            << " restarted after a kill), completions counted " << completed << "\n"
            << "soak: callbacks: missing " << missing_callbacks << ", duplicates "
            << duplicate_callbacks << "\n"
            << "soak: went back from done " << watch.went_back.size() << ", deadletter "
            << deadletter << ", objects in the trash " << in_trash << ", orphans " << orphans
            << "\n";
  bool kept = ids.size() == static_cast<size_t>(o.jobs) && done == o.jobs && completed == o.jobs &&
              watch.went_back.empty() && missing_callbacks == 0 && deadletter == 0 && orphans == 0;
  std::cout << (kept ? "soak: every promise kept\n" : "soak: PROMISE BROKEN\n");
  return kept ? 0 : 1;
}

}  // namespace
}  // namespace msaas::test

int main(int argc, char** argv) {
  msaas::test::Options options;
  CLI::App app{"msaas-soak: the job queue's promises under worker, Redis and S3 faults"};
  app.add_option("--jobs", options.jobs, "Songs to submit")->capture_default_str();
  app.add_option("--song-seconds", options.song_seconds, "Length of each")->capture_default_str();
  app.add_option("--kill-every", options.kill_every_s, "Seconds between worker SIGKILLs")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  signal(SIGPIPE, SIG_IGN);
  return msaas::test::soak(options);
}

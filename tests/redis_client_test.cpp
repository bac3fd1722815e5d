// tests/redis_client_test.cpp: what the Redis client does when the network loses a reply, with a
// real redis-server behind a small TCP relay that can drop the connection right after Redis has
// answered (the command ran; the client never hears so). A command that is not safe to run twice
// (a counter, a list push) must not be sent again; one that is safe is, and succeeds. A
// connection that Redis closed while it sat idle (a restart) is replaced before use, with no
// command run twice.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "queue/jobs.h"
#include "queue/redis.h"
#include "service_support.h"

namespace msaas::test {
namespace {

// Relays 127.0.0.1:port() to Redis; drop_next_reply() makes it swallow Redis's next answer and
// close the client's connection instead.
class LossyRelay {
 public:
  explicit LossyRelay(int redis_port) : redis_port_(redis_port) {
    listener_ = listen_on_loopback(port_, 8);
    thread_ = std::thread([this] { accept_loop(); });
  }
  ~LossyRelay() {
    stop_ = true;
    shutdown(listener_, SHUT_RDWR);
    close(listener_);
    thread_.join();
  }
  int port() const { return port_; }
  void drop_next_reply() { drop_ = true; }
  int connections() const { return connections_; }

 private:
  void accept_loop() {
    std::vector<std::thread> relays;
    while (!stop_) {
      int client = accept(listener_, nullptr, nullptr);
      if (client < 0) break;
      ++connections_;
      relays.emplace_back([this, client] { relay(client); });
    }
    for (auto& r : relays) r.join();
  }

  void relay(int client) {
    int upstream = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address = loopback_address(redis_port_);
    if (connect(upstream, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
      char buffer[65536];
      pollfd fds[2] = {{client, POLLIN, 0}, {upstream, POLLIN, 0}};
      while (!stop_ && poll(fds, 2, 100) >= 0) {
        if (fds[0].revents) {
          ssize_t n = read(client, buffer, sizeof buffer);
          if (n <= 0 || write(upstream, buffer, n) != n) break;
        }
        if (fds[1].revents) {
          ssize_t n = read(upstream, buffer, sizeof buffer);
          if (n <= 0 || drop_.exchange(false)) break;  // Redis answered; the client never hears
          if (write(client, buffer, n) != n) break;
        }
      }
    }
    close(upstream);
    close(client);
  }

  int redis_port_, port_ = 0, listener_ = -1;
  std::atomic<bool> stop_{false}, drop_{false};
  std::atomic<int> connections_{0};
  std::thread thread_;
};

int port_of(const std::string& url) {
  return queue::parse_redis_url(url).port;
}

TEST(RedisClient, ACounterWhoseReplyIsLostIsNotCountedTwice) {
  RedisServer redis;
  LossyRelay relay(port_of(redis.url()));
  queue::Redis client("redis://127.0.0.1:" + std::to_string(relay.port()));
  client.command({"HINCRBY", "stats", "done", "1"});
  relay.drop_next_reply();
  expect_error<queue::RedisError>(
      [&] {
        client.command({"HINCRBY", "stats", "done", "1"});
      },
      "reply was lost");
  queue::Redis direct(redis.url());
  EXPECT_EQ(direct.command({"HGET", "stats", "done"}).str, "2");  // ran once, never again
  relay.drop_next_reply();
  expect_error<queue::RedisError>(
      [&] {
        client.command({"LPUSH", "logging", "a line"});
      },
      "reply was lost");
  EXPECT_EQ(direct.command({"LLEN", "logging"}).integer, 1);
}

TEST(RedisClient, AReadWhoseReplyIsLostIsAskedAgain) {
  RedisServer redis;
  LossyRelay relay(port_of(redis.url()));
  queue::Redis client("redis://127.0.0.1:" + std::to_string(relay.port()));
  client.command({"SET", "k", "v"});
  relay.drop_next_reply();
  EXPECT_EQ(client.command({"GET", "k"}).str, "v");
  EXPECT_EQ(relay.connections(), 2);  // the second copy went over a fresh connection
}

// A worker finishing a job whose answer is lost: the queue checks whether its script ran (the
// job left the worker's list) before running it again, so the job ends once, counted once.
TEST(RedisClient, AFinishWhoseReplyIsLostEndsTheJobOnce) {
  RedisServer redis;
  LossyRelay relay(port_of(redis.url()));
  queue::RedisPool pool("redis://127.0.0.1:" + std::to_string(relay.port()));
  queue::JobQueue jobs(pool, queue::QueueSettings{});
  queue::JobSpec spec;
  spec.hash = "ab";
  spec.upload = "ab.mp3";
  spec.id = queue::job_id(spec.hash, spec.settings);
  jobs.enqueue(spec);
  queue::Redis blocking(redis.url(), 5);
  auto claim = jobs.claim(blocking, "w", 1);
  ASSERT_TRUE(claim);
  relay.drop_next_reply();
  EXPECT_TRUE(jobs.complete("w", *claim, {{"zip", "z"}}, {}));  // no error: it did run
  queue::Redis direct(redis.url());
  EXPECT_EQ(direct.command({"HGET", "job:" + spec.id, "status"}).str, "done");
  EXPECT_EQ(direct.command({"HGET", "stats", "done"}).str, "1");
  EXPECT_EQ(direct.command({"LLEN", "processing:w"}).integer, 0);
}

TEST(RedisClient, AConnectionClosedByARestartIsReplacedWithoutRunningTwice) {
  RedisServer redis;
  queue::Redis client(redis.url());
  client.command({"LPUSH", "toWorker", "first"});
  redis.stop();
  redis.start();
  client.command({"LPUSH", "toWorker", "second"});
  queue::Redis direct(redis.url());
  EXPECT_EQ(direct.command({"LLEN", "toWorker"}).integer, 1);  // no append-only file: only the new
}

}  // namespace
}  // namespace msaas::test

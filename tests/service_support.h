// tests/service_support.h: the real peers the service tests talk to, each started as its own
// process on a free loopback port: redis-server, the S3 peer s3rver (npm), msaas-api and
// msaas-worker. Everything stops (and its data is removed) when the test ends.
#pragma once

#include <httplib.h>
#include <netinet/in.h>

#include <chrono>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "service/child_process.h"
#include "support.h"

namespace msaas::test {

// What a test's Redis keeps across a restart: nothing, or everything (the append-only file).
enum class Persistence { none, append_only };

class RedisServer {
 public:
  explicit RedisServer(Persistence persistence = Persistence::none);
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }
  void stop();
  void start();  // again, same port and data (for restart tests)
  void crash();  // SIGKILL: no shutdown, no last write

 private:
  TempDir dir_;
  int port_;
  bool append_only_;
  std::unique_ptr<service::ChildProcess> process_;
};

// s3rver (S3's REST protocol over HTTP, on disk) behind tests/s3peer/verifying-peer.mjs, which
// checks every request's SigV4 signature as MinIO does. Its credentials are deliberately awkward
// ('/' and '+' in both, a region other than us-east-1) so that signing mistakes show.
class S3Peer {
 public:
  static constexpr const char* access_key = "MSAAS/TEST+KEY";
  static constexpr const char* secret_key = "t3st/Secret+Key/with+slashes/0123456789";
  static constexpr const char* region = "eu-west-3";

  S3Peer();
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // The peer's own log: one line per refused request, with the canonical request it computed.
  std::string log() const;
  void stop();
  void start();  // again, same port and data (for outage tests)
  // SIGSTOP / SIGCONT: a peer that accepts connections and answers nothing (a stalled S3).
  void freeze();
  void thaw();
  // Object names stored in `bucket`, read from s3rver's folder.
  std::set<std::string> keys(const std::string& bucket) const;

 private:
  TempDir dir_;
  int port_;
  std::unique_ptr<service::ChildProcess> process_;
};

// Settings for the programs under test: Redis, storage (fs, or s3 when an S3Peer is given),
// the tiny test models, short leases so lost workers are noticed quickly.
std::map<std::string, std::string> service_environment(const RedisServer& redis,
                                                       const fs::path& data,
                                                       const S3Peer* s3 = nullptr);

class ApiProcess {
 public:
  // `wrapper` runs before the program (e.g. prlimit with its arguments and "--").
  ApiProcess(const std::map<std::string, std::string>& env, const fs::path& data,
             const std::vector<std::string>& wrapper = {});
  int port() const { return port_; }
  pid_t pid() const { return process_->pid(); }
  httplib::Client client() const;
  // SIGTERM, then SIGKILL after `grace_s`; the exit status.
  int stop(double grace_s) { return process_->stop(grace_s); }

 private:
  int port_ = 0;
  std::unique_ptr<service::ChildProcess> process_;
};

class WorkerProcess {
 public:
  WorkerProcess(const std::map<std::string, std::string>& env, const fs::path& log,
                const std::vector<std::string>& wrapper = {});
  void kill(int signal);
  bool running() { return process_->running(); }
  int stop(double grace_s) { return process_->stop(grace_s); }

 private:
  std::unique_ptr<service::ChildProcess> process_;
};

enum class Storage { fs, s3 };

struct ServiceOptions {
  Storage storage = Storage::fs;
  int workers = 1;
  // Override the test defaults of service_environment() (MSAAS_* variables).
  std::map<std::string, std::string> settings = {};
};

// The whole service: Redis, S3 or the filesystem, one API, `workers` workers.
struct Service {
  explicit Service(const ServiceOptions& options);
  TempDir data;
  RedisServer redis{Persistence::append_only};  // as deployed: restarts keep the queue
  std::unique_ptr<S3Peer> s3;
  std::map<std::string, std::string> env;
  std::unique_ptr<ApiProcess> api;
  std::vector<std::unique_ptr<WorkerProcess>> workers;
  void add_worker();
};

// Polls until `ok()` or `seconds` pass.
template <typename Check>
bool eventually(double seconds, Check ok) {
  auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < until) {
    if (ok()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return ok();
}

// 127.0.0.1:port as a socket address.
sockaddr_in loopback_address(int port);

// A TCP socket listening on 127.0.0.1 at a free port (set in `port`); the caller closes it.
int listen_on_loopback(int& port, int backlog = 64);

// GET as JSON (asserting the status).
nlohmann::json get_json(httplib::Client& client, const std::string& path, int status = 200);
// A test song: `seconds` of an MP3 (LAME) stereo tone at `hz`, named `name` or after its pitch.
fs::path mp3_song(const TempDir& dir, double seconds, double hz = 440,
                  const std::string& name = "");
// POSTs a file to /v1/jobs with `query` (e.g. "?stems=6"); the answer's JSON, failing the test
// unless the status is `status`.
nlohmann::json post_song(httplib::Client& client, const fs::path& file,
                         const std::string& query = "", int status = 201);
// A new job from a file: its id (post_song expecting 201).
std::string submit_song(httplib::Client& client, const fs::path& file);
// Polls until the job's stage is `stage`; fails the test if the job ends first or 30 s pass.
void wait_for_stage(httplib::Client& client, const std::string& id, const std::string& stage);
// Polls GET /v1/jobs/{id} until status is done or failed (or `timeout_s` passes).
nlohmann::json wait_for_job(httplib::Client& client, const std::string& id, double timeout_s = 120);
std::string read_file(const fs::path& path);

// A hand-made HTTP exchange on a raw socket, for clients no library would be: sends `bytes`,
// then (unless `hang_up`) reads the answer until the server closes or `wait_s` passes.
std::string raw_http(int port, const std::string& bytes, bool hang_up = false, double wait_s = 10);

// A client socket kept open across steps (a slow uploader, a slow head, an event stream), from
// `from` (another loopback address such as 127.0.0.2, to stand for another client) when given.
class RawConnection {
 public:
  explicit RawConnection(int port, const std::string& from = "");
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;
  void send_text(const std::string& bytes);
  // Sends all of `bytes` unless the peer stops taking them for `wait_s` or hangs up.
  bool send_some(const std::string& bytes, double wait_s);
  // Reads until the server closes the connection or nothing comes for `wait_s`.
  std::string read_all(double wait_s);
  // Reads what arrives within `wait_s` (at least one piece when any comes).
  std::string read_some(double wait_s);

 private:
  int fd_;
};

// The most memory the process ever held, from the kernel (VmHWM), in MiB.
double peak_rss_mib(pid_t pid);

}  // namespace msaas::test

// tests/service_support.cpp: see service_support.h.
#include "service_support.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "queue/redis.h"

namespace msaas::test {

using service::ChildProcess;

namespace {

void sleep_ms(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

// The first port the kernel hands out for port 0 and for outgoing connections.
int first_ephemeral_port() {
  std::ifstream range("/proc/sys/net/ipv4/ip_local_port_range");
  int low = 32768;
  range >> low;
  return low;
}

bool can_bind_loopback(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address = loopback_address(port);
  bool free = fd >= 0 && bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  if (fd >= 0) close(fd);
  return free;
}

// A free port below the kernel's ephemeral range, for peers that stop and start again on the
// same port: while one is down, no server asking for port 0 (and no outgoing connection) can
// be given its number and then be reached by the service's reconnects. That happened in CI: a
// file server on a stopped Redis's port held its one thread on a worker's reconnect.
int restartable_loopback_port() {
  std::random_device seed;
  std::mt19937 pick(seed());
  int high = first_ephemeral_port();
  std::uniform_int_distribution<int> ports(10000, std::max(10001, high - 1));
  for (int tries = 0; tries < 200; ++tries) {
    int port = ports(pick);
    if (can_bind_loopback(port)) return port;
  }
  return service::free_loopback_port();
}

}  // namespace

RedisServer::RedisServer(Persistence persistence)
    : port_(restartable_loopback_port()), append_only_(persistence == Persistence::append_only) {
  start();
}

void RedisServer::start() {
  process_ = std::make_unique<ChildProcess>(
      "redis-server",
      std::vector<std::string>{"/usr/bin/redis-server", "--port", std::to_string(port_), "--bind",
                               "127.0.0.1", "--dir", dir_.path().string(), "--save", "",
                               "--appendonly", append_only_ ? "yes" : "no", "--appendfsync",
                               "always"},
      std::map<std::string, std::string>{}, (dir_ / "redis.log").string());
  for (int i = 0; i < 100; ++i) {
    try {
      queue::Redis(url(), 1.0).command({"PING"});
      return;
    } catch (const std::exception&) {
      sleep_ms(50);
    }
  }
  throw std::runtime_error("redis-server did not start: " + read_file(dir_ / "redis.log"));
}

void RedisServer::stop() {
  process_->stop(10);
}

void RedisServer::crash() {
  kill(process_->pid(), SIGKILL);
  process_->stop(10);
}

S3Peer::S3Peer() : port_(restartable_loopback_port()) {
  fs::create_directories(dir_ / "data");
  start();
}

void S3Peer::start() {
  fs::path peer = fs::path(MSAAS_S3PEER_DIR) / "verifying-peer.mjs";
  if (!fs::exists(fs::path(MSAAS_S3PEER_DIR) / "node_modules" / "s3rver"))
    throw std::runtime_error("s3rver is not installed: run `npm ci --prefix tests/s3peer`");
  process_ = std::make_unique<ChildProcess>(
      "s3peer",
      std::vector<std::string>{"/usr/bin/env", "node", peer.string(), "--directory",
                               (dir_ / "data").string(), "--address", "127.0.0.1", "--port",
                               std::to_string(port_)},
      std::map<std::string, std::string>{{"S3PEER_ACCESS_KEY", access_key},
                                         {"S3PEER_SECRET_KEY", secret_key},
                                         {"S3PEER_REGION", region}},
      (dir_ / "s3peer.log").string());
  for (int i = 0; i < 200; ++i) {
    if (read_file(dir_ / "s3peer.log").find("listening on") != std::string::npos) return;
    if (!process_->running()) break;
    sleep_ms(50);
  }
  throw std::runtime_error("the S3 peer did not start: " + read_file(dir_ / "s3peer.log"));
}

std::string S3Peer::log() const {
  return read_file(dir_ / "s3peer.log");
}

void S3Peer::stop() {
  process_->stop(5);
}

void S3Peer::freeze() {
  ::kill(process_->pid(), SIGSTOP);
}

void S3Peer::thaw() {
  ::kill(process_->pid(), SIGCONT);
}

std::set<std::string> S3Peer::keys(const std::string& bucket) const {
  // s3rver keeps each object as "<key>._S3rver_object" beside its metadata.
  const std::string suffix = "._S3rver_object";
  std::set<std::string> names;
  fs::path root = dir_ / "data" / bucket;
  if (!fs::exists(root)) return names;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    std::string name = fs::relative(entry.path(), root).string();
    if (entry.is_regular_file() && name.size() > suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
      names.insert(name.substr(0, name.size() - suffix.size()));
  }
  return names;
}

std::map<std::string, std::string> service_environment(const RedisServer& redis,
                                                       const fs::path& data, const S3Peer* s3) {
  std::map<std::string, std::string> env = {
      {"MSAAS_REDIS_URL", redis.url()},
      {"MSAAS_STORAGE", s3 ? "s3" : "fs"},
      {"MSAAS_STORAGE_DIR", (data / "storage").string()},
      {"MSAAS_SPOOL_DIR", (data / "spool").string()},
      {"MSAAS_WORK_DIR", (data / "work").string()},
      {"MSAAS_MODELS", (test_data() / "parity" / "models").string()},
      {"MSAAS_DEFAULT_MODEL", "tinyht1"},
      {"MSAAS_LEASE_SECONDS", "2"},
      {"MSAAS_THREADS", "1"},
      {"MSAAS_GRACE_SECONDS", "5"},
      {"MSAAS_HOST", "127.0.0.1"},
      {"MSAAS_PORT", "0"},
      // The tests' callback receivers listen on loopback; the guard itself: CallbackGuard.*.
      {"MSAAS_CALLBACK_ALLOW_PRIVATE", "1"},
  };
  if (s3) {
    env["MSAAS_S3_ENDPOINT"] = s3->endpoint();
    env["MSAAS_S3_ACCESS_KEY"] = S3Peer::access_key;
    env["MSAAS_S3_SECRET_KEY"] = S3Peer::secret_key;
    env["MSAAS_S3_REGION"] = S3Peer::region;
  }
  return env;
}

ApiProcess::ApiProcess(const std::map<std::string, std::string>& env, const fs::path& data,
                       const std::vector<std::string>& wrapper) {
  fs::path port_file = data / "api.port";
  fs::remove(port_file);
  std::vector<std::string> argv = wrapper;
  for (std::string arg :
       {std::string(MSAAS_API_BINARY), std::string("--port-file"), port_file.string()})
    argv.push_back(arg);
  process_ = std::make_unique<ChildProcess>("msaas-api", argv, env, (data / "api.log").string());
  for (int i = 0; i < 400 && !fs::exists(port_file); ++i) {
    if (!process_->running()) break;
    sleep_ms(25);
  }
  if (!fs::exists(port_file))
    throw std::runtime_error("msaas-api did not start: " + read_file(data / "api.log"));
  port_ = std::stoi(read_file(port_file));
}

httplib::Client ApiProcess::client() const {
  httplib::Client client("127.0.0.1", port_);
  client.set_read_timeout(30, 0);
  return client;
}

WorkerProcess::WorkerProcess(const std::map<std::string, std::string>& env, const fs::path& log,
                             const std::vector<std::string>& wrapper) {
  std::vector<std::string> argv = wrapper;
  argv.push_back(MSAAS_WORKER_BINARY);
  process_ = std::make_unique<ChildProcess>("msaas-worker", argv, env, log.string());
}

void WorkerProcess::kill(int signal) {
  ::kill(process_->pid(), signal);
}

Service::Service(const ServiceOptions& options) {
  if (options.storage == Storage::s3) s3 = std::make_unique<S3Peer>();
  env = service_environment(redis, data.path(), s3.get());
  for (const auto& [name, value] : options.settings) env[name] = value;
  api = std::make_unique<ApiProcess>(env, data.path());
  for (int i = 0; i < options.workers; ++i) add_worker();
}

fs::path mp3_song(const TempDir& dir, double seconds, double hz, const std::string& name) {
  std::string file = name.empty() ? "song-" + std::to_string(static_cast<int>(hz)) + ".mp3" : name;
  return make_tone(dir / file, seconds, 44100, 2, {"-c:a", "libmp3lame"}, hz);
}

nlohmann::json post_song(httplib::Client& client, const fs::path& file, const std::string& query,
                         int status) {
  auto res = client.Post("/v1/jobs" + query, read_file(file), "audio/mpeg");
  EXPECT_TRUE(res) << "POST /v1/jobs" << query << ": no answer";
  if (!res) return nlohmann::json::object();
  EXPECT_EQ(res->status, status) << res->body;
  auto answer = nlohmann::json::parse(res->body, nullptr, false);
  return answer.is_object() ? answer : nlohmann::json::object();
}

std::string submit_song(httplib::Client& client, const fs::path& file) {
  return post_song(client, file).value("id", "");
}

void wait_for_stage(httplib::Client& client, const std::string& id, const std::string& stage) {
  for (int i = 0; i < 3000; ++i) {
    auto job = get_json(client, "/v1/jobs/" + id);
    if (job["stage"] == stage) return;
    ASSERT_NE(job["status"], "done") << "job " << id << " ended before reaching " << stage;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  FAIL() << "job " << id << " never reached " << stage;
}

void Service::add_worker() {
  workers.push_back(std::make_unique<WorkerProcess>(
      env, data / ("worker-" + std::to_string(workers.size() + 1) + ".log")));
}

sockaddr_in loopback_address(int port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  return address;
}

int listen_on_loopback(int& port, int backlog) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address = loopback_address(0);
  socklen_t size = sizeof address;
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&address), size) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) != 0 ||
      listen(fd, backlog) != 0)
    throw std::runtime_error("cannot listen on a loopback port");
  port = ntohs(address.sin_port);
  return fd;
}

nlohmann::json get_json(httplib::Client& client, const std::string& path, int status) {
  auto res = client.Get(path);
  if (!res) throw std::runtime_error("GET " + path + ": no answer");
  EXPECT_EQ(res->status, status) << path << ": " << res->body;
  return nlohmann::json::parse(res->body);
}

nlohmann::json wait_for_job(httplib::Client& client, const std::string& id, double timeout_s) {
  auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  nlohmann::json job;
  while (std::chrono::steady_clock::now() < until) {
    job = get_json(client, "/v1/jobs/" + id);
    if (job["status"] == "done" || job["status"] == "failed") return job;
    sleep_ms(50);
  }
  ADD_FAILURE() << "job " << id << " did not finish: " << job.dump();
  return job;
}

std::string raw_http(int port, const std::string& bytes, bool hang_up, double wait_s) {
  RawConnection connection(port);
  connection.send_text(bytes);
  return hang_up ? std::string() : connection.read_all(wait_s);
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

RawConnection::RawConnection(int port, const std::string& from)
    : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
  if (!from.empty()) {
    sockaddr_in source{};
    source.sin_family = AF_INET;
    inet_pton(AF_INET, from.c_str(), &source.sin_addr);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&source), sizeof source) != 0)
      throw std::runtime_error("cannot bind to " + from);
  }
  sockaddr_in address = loopback_address(port);
  if (connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    close(fd_);
    throw std::runtime_error("cannot connect to port " + std::to_string(port));
  }
}

RawConnection::~RawConnection() {
  close(fd_);
}

void RawConnection::send_text(const std::string& bytes) {
  (void)!::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
}

bool RawConnection::send_some(const std::string& bytes, double wait_s) {
  timeval timeout{static_cast<long>(wait_s), 0};
  setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  for (size_t done = 0; done < bytes.size();) {
    ssize_t n = ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

std::string RawConnection::read_all(double wait_s) {
  timeval timeout{static_cast<long>(wait_s), static_cast<long>((wait_s - (long)wait_s) * 1e6)};
  setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  std::string answer;
  char buffer[4096];
  ssize_t n;
  while ((n = recv(fd_, buffer, sizeof buffer, 0)) > 0) answer.append(buffer, n);
  return answer;
}

std::string RawConnection::read_some(double wait_s) {
  timeval timeout{static_cast<long>(wait_s), static_cast<long>((wait_s - (long)wait_s) * 1e6)};
  setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  char buffer[65536];
  ssize_t n = recv(fd_, buffer, sizeof buffer, 0);
  return n > 0 ? std::string(buffer, static_cast<size_t>(n)) : std::string();
}

double peak_rss_mib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024;
  return -1;
}

}  // namespace msaas::test

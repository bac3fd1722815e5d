// tests/up_test.cpp: `msaas up`, the README's run command: the whole service from one command
// (private redis-server, msaas-api, msaas-worker), usable at the printed URL, gone after Ctrl-C.
#include <signal.h>

#include <algorithm>
#include <cstdlib>
#include <regex>
#include <thread>

#include "queue/redis.h"
#include "service_support.h"

namespace msaas::test {
namespace {

using nlohmann::json;

struct Up {
  TempDir dir;
  std::unique_ptr<service::ChildProcess> process;
  int port = 0;

  explicit Up(const std::vector<std::string>& extra, const fs::path& models) {
    std::vector<std::string> argv{msaas_binary().string(), "up", "--port", "0", "--data",
                                  (dir / "var").string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    process = std::make_unique<service::ChildProcess>(
        "msaas up", argv, std::map<std::string, std::string>{{"MSAAS_MODELS", models.string()}},
        (dir / "up.log").string());
    std::regex url(R"(MSaaS is up: http://127\.0\.0\.1:(\d+)/)");
    for (int i = 0; i < 600 && !port; ++i) {
      std::smatch m;
      std::string log = read_file(dir / "up.log");
      if (std::regex_search(log, m, url)) port = std::stoi(m[1]);
      if (!process->running()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (!port) throw std::runtime_error("msaas up did not start: " + read_file(dir / "up.log"));
  }
  std::string log() { return read_file(dir / "up.log"); }
};

TEST(Up, RunsTheWholeServiceAndStopsCleanlyOnCtrlC) {
  Up up({"--default-model", "tinyht1"}, test_data() / "parity" / "models");
  httplib::Client client("127.0.0.1", up.port);
  TempDir songs;
  auto song = make_tone(songs / "song.mp3", 3, 44100, 2, {"-c:a", "libmp3lame"});
  auto res = client.Post("/v1/jobs", read_file(song), "audio/mpeg");
  ASSERT_EQ(res->status, 201) << res->body;
  auto job = wait_for_job(client, json::parse(res->body)["id"]);
  EXPECT_EQ(job["status"], "done");
  EXPECT_TRUE(fs::exists(up.dir / "var" / "redis" / "appendonlydir"));  // persistence is on
  std::string redis_url = read_file(up.dir / "var" / "redis.url");
  redis_url.pop_back();

  // The logging list holds both programs' lines.
  auto logs = run_msaas({"logs", "--once", "--redis-url", redis_url});
  EXPECT_EQ(logs.exit_code, 0) << logs.err;
  EXPECT_NE(logs.out.find(".msaas-api.info:"), std::string::npos) << logs.out;
  EXPECT_NE(logs.out.find(".msaas-worker.info:job "), std::string::npos) << logs.out;

  kill(up.process->pid(), SIGINT);
  for (int i = 0; i < 400 && up.process->running(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_FALSE(up.process->running()) << up.log();
  EXPECT_EQ(up.process->stop(0), 0) << up.log();
  EXPECT_FALSE(client.Get("/healthz"));                                           // the API is gone
  EXPECT_THROW(queue::Redis(redis_url, 1).command({"PING"}), queue::RedisError);  // and Redis
}

// The processes whose parent is `pid` (from /proc).
std::vector<pid_t> children_of(pid_t pid) {
  std::vector<pid_t> out;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string status = read_file(entry.path() / "status");
    auto at = status.find("\nPPid:\t");
    if (at != std::string::npos && std::stoi(status.substr(at + 7)) == pid)
      out.push_back(std::stoi(name));
  }
  return out;
}

// Gone, or a zombie nobody has reaped yet: either way it runs no more.
bool ended(pid_t pid) {
  std::string status = read_file(fs::path("/proc") / std::to_string(pid) / "status");
  return status.empty() || status.find("\nState:\tZ") != std::string::npos;
}

// Issue 17, item 10: `msaas up` killed outright (or crashed) must not leave its Redis, API and
// worker running and holding the port, or the next `make run` fails.
TEST(Up, ItsProgramsEndWhenItIsKilled) {
  Up up({"--default-model", "tinyht1"}, test_data() / "parity" / "models");
  auto children = children_of(up.process->pid());
  ASSERT_EQ(children.size(), 3u) << up.log();
  kill(up.process->pid(), SIGKILL);
  up.process->stop(0);
  for (int i = 0; i < 200; ++i) {
    if (std::all_of(children.begin(), children.end(), ended)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  for (pid_t child : children) EXPECT_TRUE(ended(child)) << child;
  httplib::Client client("127.0.0.1", up.port);
  EXPECT_FALSE(client.Get("/healthz"));  // the port is free again
}

// The environment `pid` was started with: NAME=value entries.
std::vector<std::string> environment_of(pid_t pid) {
  std::string text = read_file(fs::path("/proc") / std::to_string(pid) / "environ");
  std::vector<std::string> out;
  for (size_t start = 0, end; start < text.size(); start = end + 1) {
    end = text.find('\0', start);
    if (end == std::string::npos) end = text.size();
    out.push_back(text.substr(start, end - start));
  }
  return out;
}

// The launcher's huge pages are for msaas-cli's own start: `msaas up` runs with them, and its
// API and worker get the user's GLIBC_TUNABLES back (as the images run them).
TEST(Up, ItsProgramsGetTheUsersTunablesBack) {
  Up up({"--default-model", "tinyht1"}, test_data() / "parity" / "models");
  auto own = environment_of(up.process->pid());
  EXPECT_NE(std::find_if(own.begin(), own.end(),
                         [](const std::string& e) {
                           return e.rfind("GLIBC_TUNABLES=", 0) == 0 &&
                                  e.find("glibc.malloc.hugetlb=") != std::string::npos;
                         }),
            own.end());
  const char* users = std::getenv("GLIBC_TUNABLES");
  int checked = 0;
  for (pid_t child : children_of(up.process->pid())) {
    std::string exe =
        fs::read_symlink(fs::path("/proc") / std::to_string(child) / "exe").filename().string();
    if (exe != "msaas-api" && exe != "msaas-worker") continue;  // redis-server rewrites its own
    ++checked;
    std::string tunables = "(none)";
    for (const auto& entry : environment_of(child)) {
      EXPECT_NE(entry.rfind("MSAAS_USER_GLIBC_TUNABLES=", 0), 0u) << exe;
      if (entry.rfind("GLIBC_TUNABLES=", 0) == 0) tunables = entry.substr(15);
    }
    EXPECT_EQ(tunables, users ? users : "(none)") << exe;
  }
  EXPECT_EQ(checked, 2) << up.log();
}

TEST(Up, DefaultsToHtdemucsWhenTheModelsFolderHasIt) {
  if (real_htdemucs().empty()) GTEST_SKIP() << "no real htdemucs in ../shared/models";
  Up up({}, shared_models());
  EXPECT_EQ(up.log().find("warning"), std::string::npos) << up.log();
  httplib::Client client("127.0.0.1", up.port);
  json models;
  for (int i = 0; i < 200; ++i) {
    models = get_json(client, "/v1/models");
    if (!models["models"].empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(models["default"], "htdemucs");
  bool listed = false;
  for (const auto& m : models["models"])
    if (m["name"] == "htdemucs") listed = m["default"];
  EXPECT_TRUE(listed) << models.dump();
}

TEST(Up, AMissingDefaultModelIsNamedWithTheFix) {
  Up up({}, test_data() / "parity" / "models");
  EXPECT_NE(up.log().find("msaas models pull htdemucs"), std::string::npos) << up.log();
}

}  // namespace
}  // namespace msaas::test

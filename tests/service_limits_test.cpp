// tests/service_limits_test.cpp: the API at its doors: hostile and broken requests (huge,
// broken off, not audio, odd paths, slow), configurable limits (concurrent uploads, request
// time, song length), API keys with per-key visibility and rate limits. Each bad request gets a
// 4xx with a JSON body, nothing is stored or queued for it, and the server keeps serving.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <thread>

#include "service_support.h"

namespace msaas::test {
namespace {

using nlohmann::json;

bool nothing_kept(Service& service) {
  return fs::is_empty(service.data / "storage" / "queue") &&
         (!fs::exists(service.data / "spool") || fs::is_empty(service.data / "spool"));
}

TEST(Limits, HostileRequestsGetJsonErrorsAndLeaveNothing) {
  Service service({.workers = 0});
  auto client = service.api->client();
  TempDir dir;
  std::string mp3 = read_file(mp3_song(dir, 2, 440, "song.mp3"));

  // 2 GB announced: refused before a byte of the body is read.
  auto huge = raw_http(service.api->port(),
                       "POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: audio/mpeg\r\n"
                       "Content-Length: 2147483648\r\n\r\n" +
                           mp3.substr(0, 1000));
  EXPECT_EQ(huge.rfind("HTTP/1.1 413", 0), 0u) << huge.substr(0, 200);
  EXPECT_NE(huge.find("{\"error\":"), std::string::npos);

  // An upload that stops half-way: the client hangs up after a third of what it announced.
  raw_http(service.api->port(),
           "POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: audio/mpeg\r\nContent-Length: " +
               std::to_string(mp3.size()) + "\r\n\r\n" + mp3.substr(0, mp3.size() / 3),
           true);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_TRUE(nothing_kept(service));

  // Not audio, in either API; multipart without a boundary; odd paths; wrong methods.
  auto text = client.Post("/v1/jobs", std::string(3000, 'a'), "audio/mpeg");
  EXPECT_EQ(text->status, 415);
  auto pdf = client.Post("/apiv1/separate", json{{"mp3", "JVBERi0xLjQKJcOkw7zDtsOf"}}.dump(),
                         "application/json");
  EXPECT_EQ(pdf->status, 415);
  auto cut = client.Post("/v1/jobs", mp3.substr(0, mp3.size() / 2), "audio/mpeg");
  EXPECT_EQ(cut->status, 400);
  EXPECT_NE(cut->body.find("cut short"), std::string::npos) << cut->body;
  auto no_boundary = client.Post("/v1/jobs", mp3, "multipart/form-data");
  EXPECT_EQ(no_boundary->status / 100, 4);
  for (std::string path :
       std::vector<std::string>{"/v1/jobs/%00", "/v1/jobs/abc%00def", "/apiv1/track/%00/vocals.mp3",
                                "/v1/jobs/" + std::string(5000, 'f')}) {
    auto res = client.Get(path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status / 100, 4) << path;
    EXPECT_TRUE(json::parse(res->body, nullptr, false).contains("error")) << path;
  }
  EXPECT_EQ(client.Patch("/v1/jobs", "", "text/plain")->status / 100, 4);
  EXPECT_TRUE(nothing_kept(service));
  EXPECT_EQ(get_json(client, "/v1/queue")["waiting"], 0);
  EXPECT_EQ(get_json(client, "/healthz")["status"], "ok");  // still serving
}

TEST(Limits, SlowClientsAreCutOffWhileOthersAreServed) {
  Service service({.workers = 0});
  service.env["MSAAS_REQUEST_TIMEOUT_SECONDS"] = "1";
  ApiProcess api(service.env, service.data.path());
  RawConnection slow(api.port());
  slow.send_text("GET /v1/queue HTTP/1.1\r\nHost:");  // and then nothing
  auto client = api.client();
  EXPECT_EQ(get_json(client, "/v1/queue")["waiting"], 0);
  auto started = std::chrono::steady_clock::now();
  slow.read_all(10);  // returns when the server closes the connection
  double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  EXPECT_LT(waited, 5.0);
}

TEST(Limits, ConcurrentUploadsAreCapped) {
  Service service({.workers = 0});
  service.env["MSAAS_MAX_CONCURRENT_UPLOADS"] = "1";
  ApiProcess api(service.env, service.data.path());
  TempDir dir;
  std::string mp3 = read_file(mp3_song(dir, 2, 440, "song.mp3"));
  RawConnection first(api.port());
  first.send_text(
      "POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: audio/mpeg\r\n"
      "Content-Length: " +
      std::to_string(mp3.size()) + "\r\n\r\n" + mp3.substr(0, 1000));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // it holds the only slot
  auto client = api.client();
  auto busy = client.Post("/v1/jobs", read_file(mp3_song(dir, 3, 440, "other.mp3")), "audio/mpeg");
  EXPECT_EQ(busy->status, 503);
  EXPECT_FALSE(busy->get_header_value("Retry-After").empty());
  first.send_text(mp3.substr(1000));
  auto answer = first.read_all(10);
  EXPECT_EQ(answer.rfind("HTTP/1.1 201", 0), 0u) << answer.substr(0, 300);
  auto later = client.Post("/v1/jobs", read_file(dir / "other.mp3"), "audio/mpeg");
  EXPECT_EQ(later->status, 201);  // the slot is free again
}

TEST(Limits, SongsLongerThanTheLimitFailWithAReason) {
  Service service({.workers = 1, .settings = {{"MSAAS_MAX_AUDIO_SECONDS", "2"}}});
  auto client = service.api->client();
  TempDir dir;
  auto res = client.Post("/v1/jobs", read_file(mp3_song(dir, 3, 440, "song.mp3")), "audio/mpeg");
  auto job = wait_for_job(client, json::parse(res->body)["id"]);
  EXPECT_EQ(job["status"], "failed");
  EXPECT_NE(job["error"].get<std::string>().find("up to 2 s"), std::string::npos) << job;
}

TEST(Keys, JobsBelongToTheirKeyAndRatesAreLimited) {
  Service service({.workers = 0});
  TempDir dir;
  std::string alice(32, 'a'), bob(32, 'b');
  write_text(dir / "keys", "# name:key\nalice:" + alice + "\nbob: " + bob + "\n");
  service.env["MSAAS_API_KEYS_FILE"] = (dir / "keys").string();
  service.env["MSAAS_RATE_LIMIT"] = "30";
  ApiProcess api(service.env, service.data.path());
  auto client = api.client();
  auto as = [](const std::string& key) {
    return httplib::Headers{{"Authorization", "Bearer " + key}};
  };

  auto anonymous = client.Get("/v1/queue");
  EXPECT_EQ(anonymous->status, 401);
  EXPECT_EQ(anonymous->get_header_value("WWW-Authenticate"), "Bearer realm=\"msaas\"");
  EXPECT_EQ(client.Get("/v1/queue", as(std::string(32, 'x')))->status, 401);
  EXPECT_EQ(client.Post("/apiv1/separate", "{}", "application/json")->status, 401);
  EXPECT_EQ(client.Get("/healthz")->status, 200);  // operations and the page stay open
  EXPECT_EQ(client.Get("/")->status, 200);

  std::string mp3 = read_file(mp3_song(dir, 2, 440, "song.mp3"));
  auto mine = client.Post("/v1/jobs", as(alice), mp3, "audio/mpeg");
  ASSERT_EQ(mine->status, 201) << mine->body;
  std::string id = json::parse(mine->body)["id"];
  EXPECT_EQ(client.Get("/v1/jobs/" + id, as(alice))->status, 200);
  EXPECT_EQ(client.Get("/v1/jobs/" + id + "?access_token=" + alice)->status, 200);
  EXPECT_EQ(client.Get("/v1/jobs/" + id, as(bob))->status, 404);  // not even its existence
  EXPECT_EQ(client.Delete("/v1/jobs/" + id, as(bob))->status, 404);
  auto theirs = client.Post("/v1/jobs", as(bob), mp3, "audio/mpeg");
  EXPECT_EQ(theirs->status, 201);  // the same song: bob's own job
  EXPECT_NE(json::parse(theirs->body)["id"], id);
  auto queue = json::parse(client.Get("/v1/queue", as(bob))->body);
  EXPECT_EQ(queue["jobs"], json::array({json::parse(theirs->body)["id"]}));

  // Past 30 requests a minute: 429 with Retry-After (at most one minute boundary can pass).
  int refused = 0;
  std::string retry_after;
  for (int i = 0; i < 70 && !refused; ++i) {
    auto res = client.Get("/v1/queue", as(bob));
    if (res->status == 429) {
      ++refused;
      retry_after = res->get_header_value("Retry-After");
    }
  }
  EXPECT_EQ(refused, 1);
  EXPECT_GE(std::stoi(retry_after), 1);
  EXPECT_LE(std::stoi(retry_after), 60);
  EXPECT_EQ(client.Get("/v1/jobs/" + id, as(alice))->status, 200);  // others are not affected
}

}  // namespace
}  // namespace msaas::test

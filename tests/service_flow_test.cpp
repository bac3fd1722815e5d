// tests/service_flow_test.cpp: the /v1 API end to end against the real programs: msaas-api and
// msaas-worker with a real redis-server, on the filesystem backend and on S3 (s3rver): upload,
// progress, stems with Range, zip, events, delete; settings; errors; the OpenAPI document.
#include <regex>
#include <set>
#include <thread>

#include "service_support.h"

namespace msaas::test {
namespace {

using nlohmann::json;

class ServiceFlow : public ::testing::TestWithParam<std::string> {};

TEST_P(ServiceFlow, UploadSeparateDownloadDelete) {
  Service service({.storage = GetParam() == "s3" ? Storage::s3 : Storage::fs});
  auto client = service.api->client();
  TempDir dir;
  auto job = post_song(client, mp3_song(dir, 6, 330, "song.mp3"), "?format=wav");
  ASSERT_TRUE(job["id"].is_string());
  EXPECT_EQ(job["format"], "wav");
  EXPECT_EQ(job["model"], "tinyht1");
  std::string id = job["id"];

  job = wait_for_job(client, id);
  ASSERT_EQ(job["status"], "done") << job.dump();
  EXPECT_EQ(job["progress"], 100);
  std::vector<std::string> names;
  for (const auto& s : job["stems"]) names.push_back(s["name"]);
  EXPECT_EQ(names, (std::vector<std::string>{"drums", "bass", "other", "vocals"}));

  // A stem: WAV that decodes to the song's length.
  auto whole = client.Get("/v1/jobs/" + id + "/stems/vocals");
  ASSERT_TRUE(whole);
  ASSERT_EQ(whole->status, 200);
  EXPECT_EQ(whole->get_header_value("Content-Type"), "audio/wav");
  EXPECT_EQ(whole->get_header_value("Accept-Ranges"), "bytes");
  write_text(dir / "vocals.wav", whole->body);
  auto probe = run({"ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0",
                    (dir / "vocals.wav").string()});
  EXPECT_NEAR(std::stod(probe.out), 6.0, 0.1);

  // Range: exactly those bytes.
  auto part = client.Get("/v1/jobs/" + id + "/stems/vocals", {{"Range", "bytes=100-1099"}});
  ASSERT_EQ(part->status, 206);
  EXPECT_EQ(part->body, whole->body.substr(100, 1000));
  EXPECT_EQ(part->get_header_value("Content-Range"),
            "bytes 100-1099/" + std::to_string(whole->body.size()));

  // The zip holds the four stems, assembled from the stored ones as it is sent: whole (unzip
  // checks every CRC), byte for byte the stems, and in ranges like a file.
  auto zip = client.Get("/v1/jobs/" + id + "/stems.zip");
  ASSERT_EQ(zip->status, 200);
  EXPECT_EQ(zip->get_header_value("Content-Type"), "application/zip");
  EXPECT_EQ(zip->get_header_value("Content-Length"), std::to_string(zip->body.size()));
  write_text(dir / "stems.zip", zip->body);
  auto listing = run({"unzip", "-Z1", (dir / "stems.zip").string()});
  EXPECT_EQ(listing.out, "drums.wav\nbass.wav\nother.wav\nvocals.wav\n");
  auto tested = run({"unzip", "-t", (dir / "stems.zip").string()});
  EXPECT_EQ(tested.exit_code, 0) << tested.out << tested.err;
  EXPECT_EQ(run({"unzip", "-p", (dir / "stems.zip").string(), "vocals.wav"}).out, whole->body);
  // Ranges inside the first entry, across entries and headers, and the central directory.
  size_t third = zip->body.size() / 3;
  for (auto [from, to] : std::vector<std::pair<size_t, size_t>>{
           {20, 70000}, {third, 2 * third}, {zip->body.size() - 200, zip->body.size() - 1}}) {
    auto zip_part =
        client.Get("/v1/jobs/" + id + "/stems.zip",
                   {{"Range", "bytes=" + std::to_string(from) + "-" + std::to_string(to)}});
    ASSERT_EQ(zip_part->status, 206);
    EXPECT_EQ(zip_part->body, zip->body.substr(from, to - from + 1)) << from << "-" << to;
  }

  // Events of a finished job: one progress event saying done, then the stream ends.
  auto events = client.Get("/v1/jobs/" + id + "/events");
  ASSERT_EQ(events->status, 200);
  EXPECT_EQ(events->get_header_value("Content-Type"), "text/event-stream");
  EXPECT_NE(events->body.find("event: progress\ndata: {"), std::string::npos);
  EXPECT_NE(events->body.find("\"status\":\"done\""), std::string::npos);

  // Delete: the job and its files are gone.
  auto removed = client.Delete("/v1/jobs/" + id);
  ASSERT_EQ(removed->status, 200);
  get_json(client, "/v1/jobs/" + id, 404);
  EXPECT_EQ(client.Get("/v1/jobs/" + id + "/stems/vocals")->status, 404);
  if (GetParam() == "fs") {
    EXPECT_FALSE(fs::exists(service.data / "storage" / "output" / id));
  }
}

INSTANTIATE_TEST_SUITE_P(Storage, ServiceFlow, ::testing::Values("fs", "s3"),
                         [](const auto& test) { return test.param; });

TEST(Service, MultipartUploadWithSettingsAndLiveEvents) {
  Service service({});
  auto client = service.api->client();
  TempDir dir;
  auto song = mp3_song(dir, 90, 220, "long song.mp3");
  httplib::MultipartFormDataItems form = {{"file", read_file(song), "long song.mp3", "audio/mpeg"},
                                          {"stems", "two:vocals", "", ""},
                                          {"format", "flac", "", ""}};
  auto res = client.Post("/v1/jobs", form);
  ASSERT_EQ(res->status, 201) << res->body;
  std::string id = json::parse(res->body)["id"];
  EXPECT_EQ(res->get_header_value("Location"), "/v1/jobs/" + id);

  // Follow the job's events while it runs: several progress values, ending with done.
  auto events = client.Get("/v1/jobs/" + id + "/events");
  ASSERT_EQ(events->status, 200);
  std::regex progress("\"progress\":(\\d+)");
  std::set<int> seen;
  for (std::sregex_iterator it(events->body.begin(), events->body.end(), progress), end; it != end;
       ++it)
    seen.insert(std::stoi((*it)[1]));
  EXPECT_GE(seen.size(), 3u) << events->body.substr(0, 2000);
  EXPECT_TRUE(seen.count(100));

  auto job = get_json(client, "/v1/jobs/" + id);
  ASSERT_EQ(job["status"], "done");
  EXPECT_EQ(job["stems_setting"], "two:vocals");
  ASSERT_EQ(job["stems"].size(), 2u);
  EXPECT_EQ(job["stems"][0]["name"], "vocals");
  EXPECT_EQ(job["stems"][1]["name"], "no_vocals");
  auto stem = client.Get("/v1/jobs/" + id + "/stems/no_vocals");
  EXPECT_EQ(stem->get_header_value("Content-Type"), "audio/flac");
  EXPECT_EQ(stem->body.substr(0, 4), "fLaC");
}

TEST(Service, TheSameUploadIsTheSameJob) {
  Service service({});
  auto client = service.api->client();
  TempDir dir;
  auto song = mp3_song(dir, 4, 500, "song.mp3");
  auto first = post_song(client, song, "");
  auto second = post_song(client, song, "", 200);
  EXPECT_EQ(first["id"], second["id"]);
  wait_for_job(client, first["id"]);
  auto third = post_song(client, song, "", 200);  // done already: nothing to run
  EXPECT_EQ(third["status"], "done");
  auto metrics = client.Get("/metrics")->body;
  EXPECT_NE(metrics.find("msaas_jobs{status=\"done\"} 1\n"), std::string::npos) << metrics;
  auto other = post_song(client, song, "?format=flac");  // other settings: another job
  EXPECT_NE(other["id"], first["id"]);
}

TEST(Service, BadRequestsGetJsonErrorsAndQueueNothing) {
  Service service({});
  auto client = service.api->client();
  TempDir dir;
  auto song = read_file(mp3_song(dir, 2, 440, "song.mp3"));
  auto error_of = [&](const httplib::Result& res, int status) {
    EXPECT_TRUE(res);
    if (!res) return std::string();
    EXPECT_EQ(res->status, status) << res->body;
    EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");
    return json::parse(res->body).value("error", "");
  };
  EXPECT_NE(error_of(client.Post("/v1/jobs", "", "audio/mpeg"), 400).find("empty"),
            std::string::npos);
  EXPECT_NE(error_of(client.Post("/v1/jobs?stems=5", song, "audio/mpeg"), 400).find("stems"),
            std::string::npos);
  EXPECT_NE(
      error_of(client.Post("/v1/jobs?stems=two:kazoo", song, "audio/mpeg"), 400).find("stems"),
      std::string::npos);
  EXPECT_NE(error_of(client.Post("/v1/jobs?format=ogg", song, "audio/mpeg"), 400).find("format"),
            std::string::npos);
  EXPECT_NE(error_of(client.Post("/v1/jobs?callback_url=ftp://x", song, "audio/mpeg"), 400)
                .find("callback"),
            std::string::npos);
  // Once the worker has published its models, unknown names are refused at the door.
  for (int i = 0; i < 100 && get_json(client, "/v1/models")["models"].empty(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_NE(error_of(client.Post("/v1/jobs?model=nosuchmodel", song, "audio/mpeg"), 400)
                .find("unknown model"),
            std::string::npos);
  httplib::MultipartFormDataItems no_file = {{"stems", "4", "", ""}};
  EXPECT_NE(error_of(client.Post("/v1/jobs", no_file), 400).find("file"), std::string::npos);
  for (std::string path :
       std::vector<std::string>{"/v1/jobs/..%2F..%2Fetc%2Fpasswd", "/v1/jobs/%2e%2e",
                                "/v1/jobs/" + std::string(300, 'a'), "/v1/jobs/ZZ/stems/vocals"})
    error_of(client.Get(path), 404);
  error_of(client.Get("/v1/nothing"), 404);
  EXPECT_EQ(get_json(client, "/v1/queue")["waiting"], 0);
  EXPECT_TRUE(fs::is_empty(service.data / "storage" / "queue"));

  // Not audio: refused at the door (415), nothing stored.
  write_text(dir / "fake.mp3", std::string(2000, 'x'));
  EXPECT_NE(error_of(client.Post("/v1/jobs", read_file(dir / "fake.mp3"), "audio/mpeg"), 415)
                .find("not an audio file"),
            std::string::npos);
  EXPECT_TRUE(fs::is_empty(service.data / "storage" / "queue"));

  // Looks like audio but is not: accepted, then failed with a reason in the user's words.
  write_text(dir / "broken.mp3", "ID3" + std::string(5000, 'x'));
  auto job = post_song(client, dir / "broken.mp3", "");
  job = wait_for_job(client, job["id"]);
  EXPECT_EQ(job["status"], "failed");
  EXPECT_EQ(
      job["error"].get<std::string>().rfind("the uploaded file is not a readable audio file", 0),
      0u)
      << job["error"];  // no path of the worker's scratch space
}

TEST(Service, HealthReadinessAndMetrics) {
  Service service({.workers = 0});
  auto client = service.api->client();
  EXPECT_EQ(get_json(client, "/healthz")["status"], "ok");
  EXPECT_EQ(get_json(client, "/readyz")["status"], "ready");
  auto page = client.Get("/");
  EXPECT_EQ(page->status, 200);
  EXPECT_NE(page->body.find("<form"), std::string::npos);
  auto metrics = client.Get("/metrics");
  EXPECT_EQ(metrics->get_header_value("Content-Type"), "text/plain; version=0.0.4");
  for (const char* name : {"msaas_http_requests_total{method=\"GET\",code=\"200\"}",
                           "msaas_queue_length 0", "msaas_jobs{status=\"running\"} 0",
                           "msaas_separation_seconds_total", "msaas_real_time_factor"})
    EXPECT_NE(metrics->body.find(name), std::string::npos) << name;
  service.redis.stop();
  auto ready = get_json(client, "/readyz", 503);
  EXPECT_NE(ready["checks"]["redis"].get<std::string>().find("Redis"), std::string::npos);
  EXPECT_EQ(get_json(client, "/healthz")["status"], "ok");  // alive, just not ready
}

TEST(Service, ThePageIsServedWithCachingHeaders) {
  Service service({.workers = 0});
  TempDir web;
  fs::create_directories(web / "assets");
  write_text(web / "index.html", "<script src=\"/assets/app.0123456789.js\"></script>");
  write_text(web / "assets" / "app.0123456789.js", "console.log('hi');");
  service.env["MSAAS_WEB_DIR"] = web.path().string();
  ApiProcess api(service.env, service.data.path());
  auto client = api.client();
  auto index = client.Get("/");
  ASSERT_EQ(index->status, 200);
  EXPECT_EQ(index->body, read_file(web / "index.html"));
  EXPECT_EQ(index->get_header_value("Cache-Control"), "no-cache");
  std::string etag = index->get_header_value("ETag");
  ASSERT_FALSE(etag.empty());
  EXPECT_EQ(client.Get("/", {{"If-None-Match", etag}})->status, 304);

  auto script = client.Get("/assets/app.0123456789.js");
  ASSERT_EQ(script->status, 200);
  EXPECT_EQ(script->get_header_value("Content-Type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(script->get_header_value("Cache-Control"), "public, max-age=31536000, immutable");
  EXPECT_EQ(client.Get("/assets/nothing.js")->status, 404);
  EXPECT_EQ(client.Get("/assets/..%2Findex.html")->status, 404);

  // Without a built page, / still answers with a usable form, never a blank page.
  service.env["MSAAS_WEB_DIR"] = (web / "missing").string();
  ApiProcess bare(service.env, service.data.path());
  auto fallback = bare.client().Get("/");
  EXPECT_EQ(fallback->status, 200);
  EXPECT_NE(fallback->body.find("<form"), std::string::npos);
}

// Every route in /openapi.json is served, and nothing else is.
TEST(Service, OpenApiDocumentMatchesTheRoutes) {
  Service service({.workers = 0});
  auto client = service.api->client();
  auto document = get_json(client, "/openapi.json");
  EXPECT_EQ(document["openapi"], "3.0.3");
  EXPECT_EQ(document["paths"]["/v1/jobs"]["post"]["responses"].count("415"), 1u);
  EXPECT_EQ(document["paths"]["/v1/queue"]["get"]["responses"].count("429"), 1u);
  EXPECT_EQ(document["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
  std::set<std::string> operations;
  for (const auto& [path, methods] : document["paths"].items()) {
    for (const auto& [method, operation] : methods.items()) {
      operations.insert(method + " " + path);
      std::string concrete = std::regex_replace(path, std::regex("\\{id\\}"), std::string(32, '0'));
      concrete = std::regex_replace(concrete, std::regex("\\{songhash\\}"), std::string(56, '0'));
      concrete = std::regex_replace(concrete, std::regex("\\{[a-z]+\\}"), "vocals.mp3");
      httplib::Result res = method == "get"      ? client.Get(concrete)
                            : method == "delete" ? client.Delete(concrete)
                                                 : client.Post(concrete, "{}", "application/json");
      ASSERT_TRUE(res) << method << " " << concrete;
      EXPECT_EQ(res->body.find("no such route"), std::string::npos) << method << " " << concrete;
    }
  }
  for (const char* expected :
       {"post /v1/jobs", "get /v1/jobs/{id}", "get /v1/jobs/{id}/events",
        "get /v1/jobs/{id}/stems/{stem}", "get /v1/jobs/{id}/stems.zip", "delete /v1/jobs/{id}",
        "get /v1/queue", "get /v1/models", "post /apiv1/separate", "get /apiv1/queue",
        "get /apiv1/track/{songhash}/{track}", "get /apiv1/remove/{songhash}/{track}",
        "delete /apiv1/remove/{songhash}/{track}", "get /", "get /healthz", "get /readyz",
        "get /metrics", "get /openapi.json"})
    EXPECT_TRUE(operations.count(expected)) << expected;
  auto wrong_method = client.Put("/v1/jobs", "", "text/plain");
  ASSERT_TRUE(wrong_method);
  EXPECT_EQ(wrong_method->status, 405);
  EXPECT_EQ(wrong_method->get_header_value("Allow"), "POST");
  EXPECT_EQ(client.Delete("/v1/queue")->status, 405);
}

}  // namespace
}  // namespace msaas::test

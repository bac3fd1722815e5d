// tests/openapi_contract_test.cpp: the API keeps the promises of its own OpenAPI document. A
// client calls every route as users do (both APIs, the page, the operators' routes; successes,
// ranges and errors), and every real answer is checked against /openapi.json by
// tests/openapi/validate.mjs: the status and media type are declared, JSON bodies (and the event
// stream's data) match their schemas, the document itself is valid OpenAPI 3.0, and no operation
// goes without a successful answer.
#include <gtest/gtest.h>

#include <regex>

#include "service_support.h"

namespace msaas::test {
namespace {

using nlohmann::json;

// Calls the API and keeps each answer with the route (the document's path) it came from.
class RecordingClient {
 public:
  explicit RecordingClient(httplib::Client& client) : client_(client) {}

  httplib::Result get(const std::string& route, const std::string& path,
                      const httplib::Headers& headers = {}) {
    return keep("GET", route, path, client_.Get(path, headers));
  }
  httplib::Result post(const std::string& route, const std::string& path, const std::string& body,
                       const std::string& type, const httplib::Headers& headers = {}) {
    return keep("POST", route, path, client_.Post(path, headers, body, type));
  }
  httplib::Result post_form(const std::string& route, const std::string& path,
                            const httplib::MultipartFormDataItems& form) {
    return keep("POST", route, path, client_.Post(path, form));
  }
  httplib::Result remove(const std::string& route, const std::string& path) {
    return keep("DELETE", route, path, client_.Delete(path));
  }
  const json& answers() const { return answers_; }
  // The statuses each route answered, to show what the test reached.
  std::set<std::string> seen() const {
    std::set<std::string> seen;
    for (const auto& a : answers_)
      seen.insert(a["method"].get<std::string>() + " " + a["route"].get<std::string>() + " " +
                  std::to_string(a["status"].get<int>()));
    return seen;
  }

 private:
  httplib::Result keep(const std::string& method, const std::string& route, const std::string& path,
                       httplib::Result res) {
    EXPECT_TRUE(res) << method << " " << route << ": no answer";
    if (!res) return res;
    std::string type = res->get_header_value("Content-Type");
    // Audio, zips and images are checked by their type alone; their bytes are not JSON text.
    bool text =
        res->body.empty() || type.rfind("text/", 0) == 0 || type.rfind("application/json", 0) == 0;
    answers_.push_back({{"method", method},
                        {"path", path},
                        {"route", route},
                        {"status", res->status},
                        {"content_type", type},
                        {"body", text ? res->body : std::to_string(res->body.size()) + " bytes"}});
    return res;
  }
  httplib::Client& client_;
  json answers_ = json::array();
};

// Runs tests/openapi/validate.mjs on the document and the answers (with --some: they need not
// cover every operation).
CommandResult validate(const TempDir& dir, const json& document, const json& answers,
                       const std::string& coverage = "") {
  fs::path document_file = dir / "openapi.json", answers_file = dir / "answers.json";
  std::ofstream(document_file) << document.dump();
  std::ofstream(answers_file) << answers.dump();
  std::vector<std::string> command = {"/usr/bin/env", "node", MSAAS_OPENAPI_VALIDATOR,
                                      document_file.string(), answers_file.string()};
  if (!coverage.empty()) command.push_back(coverage);
  return run(command);
}

std::string field(const httplib::Result& res, const std::string& name) {
  return res ? json::parse(res->body, nullptr, false).value(name, "") : "";
}

TEST(OpenApiContract, EveryRealAnswerMatchesTheDocument) {
  Service service({.workers = 0});  // jobs wait until the worker below starts
  auto client = service.api->client();
  RecordingClient api(client);
  TempDir dir;
  auto song = mp3_song(dir, 3, 440);
  std::string mp3 = read_file(song);

  // The page and the operators' routes.
  auto page = api.get("/", "/");
  ASSERT_TRUE(page);
  api.get("/", "/", {{"If-None-Match", page->get_header_value("ETag")}});
  std::smatch asset;
  if (std::regex_search(page->body, asset, std::regex(R"(/assets/([A-Za-z0-9._-]+))")))
    api.get("/assets/{file}", "/assets/" + asset[1].str());
  api.get("/assets/{file}", "/assets/no-such-file.js");
  for (const char* route : {"/healthz", "/readyz", "/metrics", "/scaling", "/openapi.json"})
    api.get(route, route);

  // Jobs while no worker runs: created, joined, refused, not ready.
  auto created = api.post("/v1/jobs", "/v1/jobs?stems=two:vocals", mp3, "audio/mpeg");
  ASSERT_TRUE(created && created->status == 201) << (created ? created->body : "");
  std::string id = field(created, "id");
  api.post("/v1/jobs", "/v1/jobs?stems=two:vocals", mp3, "audio/mpeg");  // the same job: 200
  auto form = api.post_form("/v1/jobs", "/v1/jobs",
                            {{"file", mp3, "song.mp3", "audio/mpeg"}, {"format", "wav", "", ""}});
  std::string wav_id = field(form, "id");
  api.post("/v1/jobs", "/v1/jobs?format=ogg", mp3, "audio/mpeg");             // 400
  api.post("/v1/jobs", "/v1/jobs", "not audio at all", "audio/mpeg");         // 415
  api.get("/v1/jobs/{id}/stems/{stem}", "/v1/jobs/" + id + "/stems/vocals");  // 409
  api.get("/v1/jobs/{id}/stems.zip", "/v1/jobs/" + id + "/stems.zip");        // 409
  api.get("/v1/jobs/{id}", "/v1/jobs/" + std::string(32, '0'));               // 404
  api.get("/v1/jobs/{id}", "/v1/jobs/not-an-id");                             // 404
  api.get("/v1/queue", "/v1/queue");
  api.get("/v1/models", "/v1/models");
  auto original = api.post("/apiv1/separate", "/apiv1/separate",
                           json{{"mp3", base64_of(mp3)}}.dump(), "application/json");
  std::string hash = field(original, "hash");
  api.post("/apiv1/separate", "/apiv1/separate", "[1, 2]", "application/json");  // 400
  api.get("/apiv1/queue", "/apiv1/queue");
  api.get("/apiv1/queue/", "/apiv1/queue/");
  api.get("/apiv1/track/{songhash}/{track}", "/apiv1/track/" + hash + "/vocals.mp3");  // 404
  api.get("/healthz", "/healthz?x=1");
  auto wrong_method = client.Post("/healthz", "", "text/plain");  // 405: not an operation
  ASSERT_TRUE(wrong_method);
  EXPECT_EQ(wrong_method->status, 405);

  // A worker separates them; an event stream follows the first to its end.
  service.add_worker();
  api.get("/v1/jobs/{id}/events", "/v1/jobs/" + id + "/events");
  for (const auto& job : {id, wav_id})
    ASSERT_EQ(wait_for_job(client, job)["status"], "done") << job;
  ASSERT_TRUE(eventually(60, [&] {
    auto res = client.Get("/apiv1/track/" + hash + "/vocals.mp3");
    return res && res->status == 200;
  }));

  // Done: the job, its stems whole and in part, the zip, the original API's tracks.
  api.get("/v1/jobs/{id}", "/v1/jobs/" + id);
  for (const auto& [job, stem] : {std::pair{id, "vocals"}, {id, "no_vocals"}, {wav_id, "drums"}}) {
    api.get("/v1/jobs/{id}/stems/{stem}", "/v1/jobs/" + job + "/stems/" + stem);
    api.get("/v1/jobs/{id}/stems/{stem}", "/v1/jobs/" + job + "/stems/" + stem,
            {{"Range", "bytes=0-99"}});
  }
  api.get("/v1/jobs/{id}/stems/{stem}", "/v1/jobs/" + id + "/stems/flute");  // 404
  api.get("/v1/jobs/{id}/stems.zip", "/v1/jobs/" + id + "/stems.zip");
  api.get("/v1/jobs/{id}/stems.zip", "/v1/jobs/" + id + "/stems.zip", {{"Range", "bytes=10-"}});
  api.get("/apiv1/track/{songhash}/{track}", "/apiv1/track/" + hash + "/base.mp3");
  api.get("/apiv1/track/{songhash}/{track}", "/apiv1/track/" + hash + "/other.mp3",
          {{"Range", "bytes=0-9"}});
  api.get("/apiv1/remove/{songhash}/{track}", "/apiv1/remove/" + hash + "/drums.mp3");
  api.remove("/apiv1/remove/{songhash}/{track}", "/apiv1/remove/" + hash + "/bass.mp3");
  api.remove("/v1/jobs/{id}", "/v1/jobs/" + wav_id);
  api.remove("/v1/jobs/{id}", "/v1/jobs/" + wav_id);  // 404: gone
  api.get("/metrics", "/metrics");

  // What the test reached: the answers a client most depends on are among them.
  auto seen = api.seen();
  for (const char* expected :
       {"POST /v1/jobs 201", "POST /v1/jobs 200", "POST /v1/jobs 400", "POST /v1/jobs 415",
        "GET /v1/jobs/{id} 200", "GET /v1/jobs/{id} 404", "GET /v1/jobs/{id}/events 200",
        "GET /v1/jobs/{id}/stems/{stem} 200", "GET /v1/jobs/{id}/stems/{stem} 206",
        "GET /v1/jobs/{id}/stems/{stem} 409", "GET /v1/jobs/{id}/stems.zip 206",
        "DELETE /v1/jobs/{id} 200", "POST /apiv1/separate 200", "GET / 304",
        "GET /assets/{file} 200", "GET /readyz 200"})
    EXPECT_TRUE(seen.count(expected)) << expected;

  auto document = get_json(client, "/openapi.json");
  auto checked = validate(dir, document, api.answers());
  EXPECT_EQ(checked.exit_code, 0) << checked.out << checked.err;
  std::cout << checked.out;

  // The checker itself can fail: an undeclared member, a wrong type, a missing member, an
  // undeclared content type or status, a path that is not its route's, an operation without a
  // successful answer: each is reported.
  auto job = get_json(client, "/v1/jobs/" + id);
  auto answer = [](const std::string& route, const std::string& path, int status,
                   const std::string& type, const std::string& body) {
    return json{{"method", "GET"},  {"path", path},         {"route", route},
                {"status", status}, {"content_type", type}, {"body", body}};
  };
  json extra = job, wrong_type = job, missing = job;
  extra["surprise"] = 1;
  wrong_type["progress"] = "forty";
  missing.erase("status");
  std::string path = "/v1/jobs/" + id, json_type = "application/json";
  json doctored = json::array({answer("/v1/jobs/{id}", path, 200, json_type, extra.dump()),
                               answer("/v1/jobs/{id}", path, 200, json_type, wrong_type.dump()),
                               answer("/v1/jobs/{id}", path, 200, json_type, missing.dump()),
                               answer("/v1/queue", "/v1/queue", 200, "text/plain", "3"),
                               answer("/healthz", "/healthz", 418, "", ""),
                               answer("/v1/jobs/{id}", "/v1/models", 404, json_type, "{}")});
  auto refused = validate(dir, document, doctored);
  EXPECT_EQ(refused.exit_code, 1) << refused.out << refused.err;
  for (const char* expected :
       {"(\"surprise\")", "/progress must be integer", "must have required property 'status'",
        "content type text/plain not declared", "GET /healthz -> 418: status not declared",
        "the path /v1/models is not an instance of the route",
        "GET /v1/models: no successful answer"})
    EXPECT_NE(refused.out.find(expected), std::string::npos) << expected << "\n" << refused.out;
}

// With API keys and a rate limit on, the answers only they give (401, 429) and a key's own
// answers match the document too.
TEST(OpenApiContract, AnswersWithKeysOnMatchTheDocument) {
  Service service({.workers = 0});
  TempDir dir;
  std::string key(32, 'k');
  write_text(dir / "keys", "alice:" + key + "\n");
  service.env["MSAAS_API_KEYS_FILE"] = (dir / "keys").string();
  service.env["MSAAS_RATE_LIMIT"] = "4";
  service.env["MSAAS_MAX_UPLOAD_BYTES"] = "4096";
  ApiProcess api(service.env, service.data.path());
  auto client = api.client();
  RecordingClient recorded(client);
  httplib::Headers alice = {{"Authorization", "Bearer " + key}};
  recorded.get("/v1/queue", "/v1/queue");                                       // 401
  recorded.get("/v1/queue", "/v1/queue", {{"Authorization", "Bearer wrong"}});  // 401
  recorded.get("/v1/queue", "/v1/queue", alice);
  recorded.get("/apiv1/queue", "/apiv1/queue", alice);
  recorded.post("/v1/jobs", "/v1/jobs", std::string(8192, 'x'), "audio/mpeg", alice);  // 413
  for (int i = 0; i < 3; ++i) recorded.get("/v1/models", "/v1/models", alice);  // the 5th: 429
  auto seen = recorded.seen();
  for (const char* expected :
       {"GET /v1/queue 401", "GET /v1/queue 200", "POST /v1/jobs 413", "GET /v1/models 429"})
    EXPECT_TRUE(seen.count(expected)) << expected;
  auto checked = validate(dir, get_json(client, "/openapi.json"), recorded.answers(), "--some");
  EXPECT_EQ(checked.exit_code, 0) << checked.out << checked.err;
}

}  // namespace
}  // namespace msaas::test

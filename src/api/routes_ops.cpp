// api/routes_ops.cpp: routes for operators and load balancers: the page at /, /healthz (the
// process answers), /readyz (Redis and storage reachable), /metrics (Prometheus text) and
// /openapi.json.
#include <mutex>
#include <sstream>

#include "api/http_util.h"
#include "api/openapi.h"
#include "api/openapi_schemas.h"
#include "api/routes.h"
#include "api/web_assets.h"
#include "queue/stats.h"
#include "service/log.h"

namespace msaas::api {

using nlohmann::json;

namespace {

// An operator reading the log after a failed probe finds the reason there, said when it
// changes rather than on every probe.
void log_readiness_change(const std::string& checks, bool ready) {
  static std::mutex mutex;
  static std::string last = "{}";
  std::lock_guard lock(mutex);
  if (checks == last) return;
  last = checks;
  if (ready)
    service::log_info("ready: " + checks);
  else
    service::log_error("not ready: " + checks);
}

void readiness(ApiContext& context, httplib::Response& res) {
  json checks = json::object();
  bool ready = true;
  try {
    context.redis.command({"PING"});
    checks["redis"] = "ok";
  } catch (const std::exception& e) {
    checks["redis"] = e.what();
    ready = false;
  }
  try {
    // Probes time out after a few seconds: a stalled storage is "not ready", promptly.
    storage::TransferLimit limit(3);
    context.storage->check(context.config.upload_bucket);
    context.storage->check(context.config.output_bucket);
    checks["storage"] = "ok";
  } catch (const std::exception& e) {
    checks["storage"] = e.what();
    ready = false;
  }
  log_readiness_change(checks.dump(), ready);
  send_json(res, ready ? 200 : 503,
            {{"status", ready ? "ready" : "not ready"}, {"checks", checks}});
}

void metrics(ApiContext& context, httplib::Response& res) {
  std::ostringstream out;
  out << "# HELP msaas_http_requests_total HTTP requests answered, by method and status.\n"
         "# TYPE msaas_http_requests_total counter\n";
  for (const auto& [key, count] : context.requests.snapshot())
    out << "msaas_http_requests_total{method=\"" << key.first << "\",code=\"" << key.second
        << "\"} " << count << "\n";
  long long waiting = context.jobs.waiting_count();
  long long running = context.jobs.running_count();
  auto totals = queue::read_totals(context.redis);
  double separation = totals.separation_seconds, audio = totals.audio_seconds;
  out << "# HELP msaas_queue_length Jobs waiting in toWorker.\n# TYPE msaas_queue_length gauge\n"
      << "msaas_queue_length " << waiting << "\n"
      << "# HELP msaas_jobs Jobs by status (queued and running now; done and failed since the "
         "start of the Redis data).\n# TYPE msaas_jobs gauge\n"
      << "msaas_jobs{status=\"queued\"} " << waiting << "\n"
      << "msaas_jobs{status=\"running\"} " << running << "\n"
      << "msaas_jobs{status=\"done\"} " << totals.done << "\n"
      << "msaas_jobs{status=\"failed\"} " << totals.failed << "\n"
      << "# HELP msaas_separation_seconds_total Seconds spent separating.\n"
         "# TYPE msaas_separation_seconds_total counter\n"
      << "msaas_separation_seconds_total " << separation << "\n"
      << "# HELP msaas_audio_seconds_total Seconds of audio separated.\n"
         "# TYPE msaas_audio_seconds_total counter\n"
      << "msaas_audio_seconds_total " << audio << "\n"
      << "# HELP msaas_real_time_factor Separation seconds per audio second, over all jobs.\n"
         "# TYPE msaas_real_time_factor gauge\n"
      << "msaas_real_time_factor " << (audio > 0 ? separation / audio : 0) << "\n";
  res.set_content(out.str(), "text/plain; version=0.0.4");
}

// What the autoscaler reads (KEDA's metrics-api scaler): jobs that need a worker now or soon.
// Running jobs count, so workers are never scaled below the jobs they are separating; so does
// housekeeping that is due (callbacks to send, jobs to expire; their files go in the same
// pass), which only workers do: with none running, one is started for it.
void scaling(ApiContext& context, httplib::Response& res) {
  long long waiting = context.jobs.waiting_count();
  long long delayed = context.jobs.delayed_count();
  long long running = context.jobs.running_count();
  long long chores = context.jobs.housekeeping_due(queue::now_seconds());
  send_json(res, 200,
            {{"waiting", waiting},
             {"retrying", delayed},
             {"running", running},
             {"housekeeping", chores},
             {"demand", waiting + delayed + running + (chores > 0 ? 1 : 0)}});
}

// What a cached page or asset gets when its ETag still matches (If-None-Match).
Answer not_modified() {
  return {304, "Not modified (If-None-Match matched the ETag)", "", nullptr};
}

std::vector<Answer> asset_answers() {
  std::vector<Answer> answers = {not_modified()};
  for (const auto& type : asset_content_types())
    answers.push_back(file_answer(200, "A script, style sheet or image of the page", type));
  return answers;
}

}  // namespace

std::vector<Route> ops_routes(ApiContext& c, const std::vector<Route>& all) {
  using Req = const httplib::Request&;
  using Res = httplib::Response&;
  auto assets = std::make_shared<WebAssets>(c.config.web_dir.empty() ? default_web_folder()
                                                                     : c.config.web_dir);
  std::vector<Route> routes = {
      {"GET",
       "/",
       "The web page (also the load balancer's health check)",
       "ops",
       [assets](Req req, Res res) { assets->serve_index(req, res); },
       nullptr,
       {text_answer(200, "The page", "text/html"), not_modified()}},
      {"GET", "/assets/{file}", "The page's scripts and styles (cached; names carry a hash)", "ops",
       [assets](Req req, Res res) { assets->serve_asset(req.matches[1], req, res); }, nullptr,
       asset_answers()},
      {"GET",
       "/healthz",
       "Liveness: the process answers",
       "ops",
       [](Req, Res res) {
         send_json(res, 200, {{"status", "ok"}});
       },
       nullptr,
       {json_answer(200, "Alive", "Health")}},
      {"GET",
       "/readyz",
       "Readiness: Redis and storage reachable",
       "ops",
       [&c](Req, Res res) { readiness(c, res); },
       nullptr,
       {json_answer(200, "Ready", "Readiness"),
        json_answer(503, "Not ready: which dependency, and why", "Readiness")}},
      {"GET",
       "/metrics",
       "Prometheus metrics",
       "ops",
       [&c](Req, Res res) { metrics(c, res); },
       nullptr,
       {text_answer(200, "Prometheus text format 0.0.4", "text/plain")}},
      {"GET",
       "/scaling",
       "Jobs waiting, retrying and running, for the workers' autoscaler",
       "ops",
       [&c](Req, Res res) { scaling(c, res); },
       nullptr,
       {json_answer(200, "Demand for workers", "Scaling")}},
  };
  Route openapi{"GET",
                "/openapi.json",
                "This OpenAPI document",
                "ops",
                nullptr,
                nullptr,
                {json_answer(200, "The document", "OpenApi")}};
  std::vector<Route> documented = all;
  documented.insert(documented.end(), routes.begin(), routes.end());
  documented.push_back(openapi);
  auto document = std::make_shared<json>(openapi_document(documented));
  openapi.handler = [document](Req, Res res) { send_json(res, 200, *document); };
  routes.push_back(openapi);
  return routes;
}

}  // namespace msaas::api

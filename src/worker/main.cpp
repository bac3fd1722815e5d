// worker/main.cpp: the msaas-worker program: settings from flags and MSAAS_* variables, a thread
// that waits for SIGTERM/SIGINT, then the worker loop.
#include <curl/curl.h>

#include <csignal>
#include <iostream>
#include <thread>

#include "service/config.h"
#include "service/log.h"
#include "service/stop_signals.h"
#include "worker/worker.h"

int main(int argc, char** argv) {
  using namespace msaas;
  service::ServiceConfig config = service::config_from_environment_or_exit("msaas-worker");
  CLI::App app{"msaas-worker: takes separation jobs off the Redis queue"};
  service::add_common_flags(app, config);
  app.add_option("--threads", config.threads,
                 "Compute threads, 0 = all usable CPUs ($MSAAS_THREADS)")
      ->capture_default_str();
  app.add_option("--grace", config.grace_s,
                 "Seconds to finish a job after SIGTERM "
                 "($MSAAS_GRACE_SECONDS)")
      ->capture_default_str();
  app.add_option("--work-dir", config.work_dir, "Scratch folder ($MSAAS_WORK_DIR)")
      ->capture_default_str();
  app.add_flag("--fast", config.fast, "Fast mode: bfloat16 matrix work ($MSAAS_FAST=1)");
  app.add_option("--device", config.device, "cpu, cuda, cuda:N or auto ($MSAAS_DEVICE)")
      ->capture_default_str();
  app.add_option("--shifts", config.shifts, "Random shifts per job ($MSAAS_SHIFTS)")
      ->capture_default_str();
  app.add_option("--heartbeat-file", config.heartbeat_file,
                 "File touched on every heartbeat, for liveness probes ($MSAAS_HEARTBEAT_FILE)");
  app.add_option("--ready-file", config.ready_file,
                 "File that exists while the worker can take jobs, for readiness probes "
                 "($MSAAS_READY_FILE)");
  CLI11_PARSE(app, argc, argv);

  // Once, before any thread: the storage and callback threads make curl handles concurrently.
  curl_global_init(CURL_GLOBAL_DEFAULT);
  service::install_stop_signals();
  try {
    service::validate(config);
    queue::RedisPool log_pool(config.redis_url);
    service::init_logging("msaas-worker", &log_pool);
    worker::Worker worker(config);
    service::on_stop_signal([&worker](int signal) {
      service::log_info("signal " + std::to_string(signal) + ": stopping after the current job");
      worker.request_stop();
    });
    int status = worker.run();
    service::init_logging("msaas-worker", nullptr);
    return status;
  } catch (const std::exception& e) {
    std::cerr << "msaas-worker: error: " << e.what() << "\n";
    return 1;
  }
}

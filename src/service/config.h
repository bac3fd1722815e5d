// service/config.h: the settings msaas-api, msaas-worker and `msaas up` share. Each has a default
// fit for one machine, an MSAAS_* environment variable, and a command-line flag (flags win).
#pragma once

#include <CLI/CLI.hpp>
#include <map>
#include <string>

#include "queue/jobs.h"
#include "storage/storage.h"

namespace msaas::service {

struct ServiceConfig {
  std::string redis_url = "redis://127.0.0.1:6379";  // MSAAS_REDIS_URL
  storage::StorageConfig storage;  // MSAAS_STORAGE (fs|s3), MSAAS_STORAGE_DIR, MSAAS_S3_ENDPOINT,
                                   // MSAAS_S3_REGION, MSAAS_S3_ACCESS_KEY, MSAAS_S3_SECRET_KEY
  std::string upload_bucket = "queue";   // MSAAS_UPLOAD_BUCKET
  std::string output_bucket = "output";  // MSAAS_OUTPUT_BUCKET
  std::string models_dir;  // MSAAS_MODELS; empty: the engine's default_models_folder()
  std::string default_model = "htdemucs";  // MSAAS_DEFAULT_MODEL
  queue::QueueSettings queue;  // MSAAS_LEASE_SECONDS, MSAAS_MAX_ATTEMPTS, MSAAS_RETENTION_SECONDS
  // API
  std::string host = "127.0.0.1";          // MSAAS_HOST
  int port = 8080;                         // MSAAS_PORT
  long long max_upload_bytes = 1LL << 30;  // MSAAS_MAX_UPLOAD_BYTES
  std::string web_dir;  // MSAAS_WEB_DIR: the built page; empty: a `web` folder beside msaas-api
  std::string api_keys_file;       // MSAAS_API_KEYS_FILE: `name:key` lines; empty: no keys
  int rate_limit = 0;              // MSAAS_RATE_LIMIT: requests per minute per client; 0: off
  int max_concurrent_uploads = 8;  // MSAAS_MAX_CONCURRENT_UPLOADS: more get 503
  int request_timeout_s = 60;      // MSAAS_REQUEST_TIMEOUT_SECONDS: slow clients are cut off
  // The door (api/guarded_server.h): whole-head and whole-upload deadlines, connection caps.
  int head_timeout_s = 10;                // MSAAS_HEAD_TIMEOUT_SECONDS: a request's head, whole
  int upload_timeout_s = 1800;            // MSAAS_UPLOAD_TIMEOUT_SECONDS: an upload's body, whole
  int max_connections = 512;              // MSAAS_MAX_CONNECTIONS: open at once (a thread each)
  int max_connections_per_address = 64;   // MSAAS_MAX_CONNECTIONS_PER_ADDRESS: 0: no cap
  int max_event_streams = 256;            // MSAAS_MAX_EVENT_STREAMS: open at once
  int max_event_streams_per_client = 32;  // MSAAS_MAX_EVENT_STREAMS_PER_CLIENT: key or address
  std::string spool_dir = "var/spool";    // MSAAS_SPOOL_DIR: uploads on their way in
  // Worker
  int threads = 0;                    // MSAAS_THREADS: compute threads (0: usable CPUs)
  int grace_s = 60;                   // MSAAS_GRACE_SECONDS: time to finish a job after SIGTERM
  std::string work_dir = "var/work";  // MSAAS_WORK_DIR: a job's files while it runs
  bool fast = false;  // MSAAS_FAST=1: workers separate in fast mode (bfloat16; docs/quality.md)
  std::string device = "auto";   // MSAAS_DEVICE: cpu, cuda, cuda:N, or auto (a GPU if present)
  int max_audio_seconds = 3600;  // MSAAS_MAX_AUDIO_SECONDS: longer songs fail with a reason
  int shifts = 1;                // MSAAS_SHIFTS
  // MSAAS_LIVE_PART_SECONDS: stems are published while they are separated, in parts of at least
  // this many seconds, for listening before the job is done (worker/live_parts.h); 0: off.
  int live_part_seconds = 5;
  // MSAAS_CALLBACK_ALLOW_PRIVATE=1: callbacks may go to private, loopback and link-local
  // addresses (in-cluster receivers); off, only public ones (service/callback_guard.h).
  bool callback_allow_private = false;
  // MSAAS_HEARTBEAT_FILE: touched every third of a lease while the worker lives (Redis or not),
  // for container liveness probes
  // (empty: none).
  std::string heartbeat_file;
  // MSAAS_READY_FILE: exists while the worker can take jobs (its default model loaded), for
  // readiness probes (empty: none).
  std::string ready_file;
};

// Defaults overridden by the MSAAS_* environment variables.
ServiceConfig config_from_environment();
// The same for a program's main(): a bad variable ends the program with one line on stderr
// ("<program>: error: ...") and exit status 2.
ServiceConfig config_from_environment_or_exit(const std::string& program);
// Flags for the settings every program shares (Redis, storage, models, queue).
void add_common_flags(CLI::App& app, ServiceConfig& config);
// The settings as MSAAS_* variables, for starting child programs with the same settings.
std::map<std::string, std::string> to_environment(const ServiceConfig& config);
// Throws std::invalid_argument with a readable line when a value cannot work.
void validate(const ServiceConfig& config);

}  // namespace msaas::service

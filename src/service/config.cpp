// service/config.cpp: see config.h.
#include "service/config.h"

#include <cstdlib>
#include <iostream>
#include <stdexcept>

namespace msaas::service {

namespace {

void from_env(const char* name, std::string& value) {
  if (const char* v = std::getenv(name); v && *v) value = v;
}

template <class Number>
void from_env(const char* name, Number& value) {
  const char* v = std::getenv(name);
  if (!v || !*v) return;
  try {
    value = static_cast<Number>(std::stoll(v));
  } catch (const std::exception&) {
    throw std::invalid_argument(std::string(name) + " must be a whole number, not \"" + v + "\"");
  }
}

}  // namespace

ServiceConfig config_from_environment() {
  ServiceConfig c;
  from_env("MSAAS_MODELS", c.models_dir);
  from_env("MSAAS_REDIS_URL", c.redis_url);
  from_env("MSAAS_STORAGE", c.storage.backend);
  from_env("MSAAS_STORAGE_DIR", c.storage.root);
  from_env("MSAAS_S3_ENDPOINT", c.storage.endpoint);
  from_env("MSAAS_S3_REGION", c.storage.region);
  from_env("MSAAS_S3_ACCESS_KEY", c.storage.access_key);
  from_env("MSAAS_S3_SECRET_KEY", c.storage.secret_key);
  from_env("MSAAS_UPLOAD_BUCKET", c.upload_bucket);
  from_env("MSAAS_OUTPUT_BUCKET", c.output_bucket);
  from_env("MSAAS_DEFAULT_MODEL", c.default_model);
  from_env("MSAAS_LEASE_SECONDS", c.queue.lease_s);
  from_env("MSAAS_MAX_ATTEMPTS", c.queue.max_attempts);
  from_env("MSAAS_RETENTION_SECONDS", c.queue.retention_s);
  from_env("MSAAS_RETRY_BACKOFF_SECONDS", c.queue.retry_backoff_s);
  from_env("MSAAS_HOST", c.host);
  from_env("MSAAS_PORT", c.port);
  from_env("MSAAS_MAX_UPLOAD_BYTES", c.max_upload_bytes);
  from_env("MSAAS_SPOOL_DIR", c.spool_dir);
  from_env("MSAAS_WEB_DIR", c.web_dir);
  from_env("MSAAS_API_KEYS_FILE", c.api_keys_file);
  from_env("MSAAS_RATE_LIMIT", c.rate_limit);
  from_env("MSAAS_MAX_CONCURRENT_UPLOADS", c.max_concurrent_uploads);
  from_env("MSAAS_REQUEST_TIMEOUT_SECONDS", c.request_timeout_s);
  from_env("MSAAS_HEAD_TIMEOUT_SECONDS", c.head_timeout_s);
  from_env("MSAAS_UPLOAD_TIMEOUT_SECONDS", c.upload_timeout_s);
  from_env("MSAAS_MAX_CONNECTIONS", c.max_connections);
  from_env("MSAAS_MAX_CONNECTIONS_PER_ADDRESS", c.max_connections_per_address);
  from_env("MSAAS_MAX_EVENT_STREAMS", c.max_event_streams);
  from_env("MSAAS_MAX_EVENT_STREAMS_PER_CLIENT", c.max_event_streams_per_client);
  from_env("MSAAS_MAX_AUDIO_SECONDS", c.max_audio_seconds);
  from_env("MSAAS_LIVE_PART_SECONDS", c.live_part_seconds);
  from_env("MSAAS_FAST", c.fast);
  from_env("MSAAS_DEVICE", c.device);
  from_env("MSAAS_THREADS", c.threads);
  from_env("MSAAS_GRACE_SECONDS", c.grace_s);
  from_env("MSAAS_WORK_DIR", c.work_dir);
  from_env("MSAAS_SHIFTS", c.shifts);
  from_env("MSAAS_HEARTBEAT_FILE", c.heartbeat_file);
  from_env("MSAAS_READY_FILE", c.ready_file);
  from_env("MSAAS_CALLBACK_ALLOW_PRIVATE", c.callback_allow_private);
  return c;
}

ServiceConfig config_from_environment_or_exit(const std::string& program) {
  try {
    return config_from_environment();
  } catch (const std::exception& e) {
    std::cerr << program << ": error: " << e.what() << "\n";
    std::exit(2);
  }
}

void add_common_flags(CLI::App& app, ServiceConfig& c) {
  app.add_option("--redis-url", c.redis_url, "Redis URL ($MSAAS_REDIS_URL)")->capture_default_str();
  app.add_option("--storage", c.storage.backend, "Storage backend: fs or s3 ($MSAAS_STORAGE)")
      ->check(CLI::IsMember({"fs", "s3"}))
      ->capture_default_str();
  app.add_option("--storage-dir", c.storage.root, "fs backend folder ($MSAAS_STORAGE_DIR)")
      ->capture_default_str();
  app.add_option("--s3-endpoint", c.storage.endpoint, "S3 endpoint URL ($MSAAS_S3_ENDPOINT)");
  app.add_option("--s3-region", c.storage.region, "S3 region ($MSAAS_S3_REGION)")
      ->capture_default_str();
  app.add_option("--models", c.models_dir,
                 "Models folder ($MSAAS_MODELS; default ~/.cache/msaas/models)");
  app.add_option("--default-model", c.default_model,
                 "Model used when a request names none "
                 "($MSAAS_DEFAULT_MODEL)")
      ->capture_default_str();
  app.add_option("--lease", c.queue.lease_s,
                 "Seconds a silent worker keeps its jobs "
                 "($MSAAS_LEASE_SECONDS)")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600));
  app.add_option("--max-attempts", c.queue.max_attempts,
                 "Tries before a job goes to deadletter "
                 "($MSAAS_MAX_ATTEMPTS)")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
  app.add_option("--retention", c.queue.retention_s,
                 "Seconds finished jobs and stems are kept "
                 "($MSAAS_RETENTION_SECONDS)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
}

std::map<std::string, std::string> to_environment(const ServiceConfig& c) {
  std::map<std::string, std::string> env = {
      {"MSAAS_REDIS_URL", c.redis_url},
      {"MSAAS_STORAGE", c.storage.backend},
      {"MSAAS_STORAGE_DIR", c.storage.root},
      {"MSAAS_S3_REGION", c.storage.region},
      {"MSAAS_UPLOAD_BUCKET", c.upload_bucket},
      {"MSAAS_OUTPUT_BUCKET", c.output_bucket},
      {"MSAAS_DEFAULT_MODEL", c.default_model},
      {"MSAAS_LEASE_SECONDS", std::to_string(c.queue.lease_s)},
      {"MSAAS_MAX_ATTEMPTS", std::to_string(c.queue.max_attempts)},
      {"MSAAS_RETENTION_SECONDS", std::to_string(c.queue.retention_s)},
      {"MSAAS_RETRY_BACKOFF_SECONDS", std::to_string(c.queue.retry_backoff_s)},
      {"MSAAS_HOST", c.host},
      {"MSAAS_PORT", std::to_string(c.port)},
      {"MSAAS_MAX_UPLOAD_BYTES", std::to_string(c.max_upload_bytes)},
      {"MSAAS_SPOOL_DIR", c.spool_dir},
      {"MSAAS_THREADS", std::to_string(c.threads)},
      {"MSAAS_GRACE_SECONDS", std::to_string(c.grace_s)},
      {"MSAAS_WORK_DIR", c.work_dir},
      {"MSAAS_SHIFTS", std::to_string(c.shifts)},
  };
  if (!c.models_dir.empty()) env["MSAAS_MODELS"] = c.models_dir;
  if (!c.storage.endpoint.empty()) env["MSAAS_S3_ENDPOINT"] = c.storage.endpoint;
  if (!c.web_dir.empty()) env["MSAAS_WEB_DIR"] = c.web_dir;
  if (!c.api_keys_file.empty()) env["MSAAS_API_KEYS_FILE"] = c.api_keys_file;
  env["MSAAS_RATE_LIMIT"] = std::to_string(c.rate_limit);
  env["MSAAS_MAX_CONCURRENT_UPLOADS"] = std::to_string(c.max_concurrent_uploads);
  env["MSAAS_REQUEST_TIMEOUT_SECONDS"] = std::to_string(c.request_timeout_s);
  env["MSAAS_HEAD_TIMEOUT_SECONDS"] = std::to_string(c.head_timeout_s);
  env["MSAAS_UPLOAD_TIMEOUT_SECONDS"] = std::to_string(c.upload_timeout_s);
  env["MSAAS_MAX_CONNECTIONS"] = std::to_string(c.max_connections);
  env["MSAAS_MAX_CONNECTIONS_PER_ADDRESS"] = std::to_string(c.max_connections_per_address);
  env["MSAAS_MAX_EVENT_STREAMS"] = std::to_string(c.max_event_streams);
  env["MSAAS_MAX_EVENT_STREAMS_PER_CLIENT"] = std::to_string(c.max_event_streams_per_client);
  env["MSAAS_MAX_AUDIO_SECONDS"] = std::to_string(c.max_audio_seconds);
  env["MSAAS_LIVE_PART_SECONDS"] = std::to_string(c.live_part_seconds);
  env["MSAAS_FAST"] = c.fast ? "1" : "0";
  env["MSAAS_CALLBACK_ALLOW_PRIVATE"] = c.callback_allow_private ? "1" : "0";
  env["MSAAS_DEVICE"] = c.device;
  if (!c.heartbeat_file.empty()) env["MSAAS_HEARTBEAT_FILE"] = c.heartbeat_file;
  if (!c.ready_file.empty()) env["MSAAS_READY_FILE"] = c.ready_file;
  return env;
}

namespace {

// One line naming the setting both ways, as flags and variables are set alike.
void check_range(long long value, long long low, long long high, const char* variable) {
  if (value < low || value > high)
    throw std::invalid_argument(std::string(variable) + " must be " + std::to_string(low) + "-" +
                                std::to_string(high) + ", not " + std::to_string(value));
}

}  // namespace

void validate(const ServiceConfig& c) {
  queue::parse_redis_url(c.redis_url);
  // The same ranges whether a value came from a flag or from the environment (a lease of 0 made
  // every heartbeat fail and the reaper take every running job).
  check_range(c.queue.lease_s, 1, 3600, "MSAAS_LEASE_SECONDS");
  check_range(c.queue.max_attempts, 1, 100, "MSAAS_MAX_ATTEMPTS");
  check_range(c.queue.retention_s, 60, 365LL * 86400, "MSAAS_RETENTION_SECONDS");
  check_range(c.queue.retry_backoff_s, 0, 3600, "MSAAS_RETRY_BACKOFF_SECONDS");
  check_range(c.max_upload_bytes, 1, 1LL << 40, "MSAAS_MAX_UPLOAD_BYTES");
  check_range(c.max_concurrent_uploads, 1, 1024, "MSAAS_MAX_CONCURRENT_UPLOADS");
  check_range(c.request_timeout_s, 1, 3600, "MSAAS_REQUEST_TIMEOUT_SECONDS");
  check_range(c.head_timeout_s, 1, 600, "MSAAS_HEAD_TIMEOUT_SECONDS");
  check_range(c.upload_timeout_s, 10, 86400, "MSAAS_UPLOAD_TIMEOUT_SECONDS");
  // Each connection is a thread and a descriptor: bounded well below a container's usual 1024.
  check_range(c.max_connections, 16, 900, "MSAAS_MAX_CONNECTIONS");
  check_range(c.max_connections_per_address, 0, 900, "MSAAS_MAX_CONNECTIONS_PER_ADDRESS");
  check_range(c.max_event_streams, 1, 900, "MSAAS_MAX_EVENT_STREAMS");
  check_range(c.max_event_streams_per_client, 0, 900, "MSAAS_MAX_EVENT_STREAMS_PER_CLIENT");
  check_range(c.rate_limit, 0, 1000000, "MSAAS_RATE_LIMIT");
  check_range(c.max_audio_seconds, 1, 86400, "MSAAS_MAX_AUDIO_SECONDS");
  check_range(c.live_part_seconds, 0, 60, "MSAAS_LIVE_PART_SECONDS");
  check_range(c.grace_s, 0, 86400, "MSAAS_GRACE_SECONDS");
  check_range(c.threads, 0, 1024, "MSAAS_THREADS");
  check_range(c.shifts, 0, 20, "MSAAS_SHIFTS");  // 0: no random shift
  if (c.storage.backend == "s3" && c.storage.endpoint.empty())
    throw std::invalid_argument("the s3 storage backend needs --s3-endpoint or MSAAS_S3_ENDPOINT");
  if (c.upload_bucket == c.output_bucket)
    throw std::invalid_argument("the upload and output buckets must differ");
  if (c.port < 0 || c.port > 65535) throw std::invalid_argument("port must be 0-65535");
}

}  // namespace msaas::service

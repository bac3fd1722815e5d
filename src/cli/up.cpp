// cli/up.cpp: see up.h.
#include "cli/up.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <thread>

#include "common/program_folder.h"
#include "msaas/engine.h"
#include "msaas/models.h"
#include "queue/log_list.h"
#include "queue/redis.h"
#include "service/child_process.h"
#include "service/log.h"
#include "service/stop_signals.h"

namespace msaas::cli {

namespace fs = std::filesystem;
using common::program_folder;
using service::ChildProcess;
using service::free_loopback_port;

CLI::App* add_up_command(CLI::App& app, UpOptions& o) {
  auto* cmd = app.add_subcommand("up", "Run the whole service here: Redis, API, worker");
  o.config = service::config_from_environment();
  service::add_common_flags(*cmd, o.config);
  cmd->add_option("--host", o.config.host, "API address ($MSAAS_HOST)")->capture_default_str();
  cmd->add_option("--port", o.config.port, "API port ($MSAAS_PORT)")->capture_default_str();
  cmd->add_option("--workers", o.workers, "Worker processes")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  cmd->add_option("--data", o.data, "Folder for Redis data, storage and logs")
      ->capture_default_str();
  cmd->add_option("--grace", o.config.grace_s, "Seconds a worker may finish its job on stop")
      ->capture_default_str();
  cmd->add_option("--threads", o.config.threads, "Compute threads per worker (0: all usable CPUs)")
      ->capture_default_str();
  return cmd;
}

namespace {

std::string find_program(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  for (size_t start = 0; start <= dirs.size();) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    fs::path candidate = fs::path(dirs.substr(start, end - start)) / name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate.string();
    start = end + 1;
  }
  for (const char* dir : {"/usr/bin", "/usr/sbin", "/usr/local/bin"})
    if (access((fs::path(dir) / name).c_str(), X_OK) == 0) return (fs::path(dir) / name).string();
  throw std::runtime_error(name +
                           " not found (install the redis-server package, or give "
                           "--redis-url of a running Redis)");
}

void wait_for_redis(const std::string& url, ChildProcess& redis) {
  for (int i = 0; i < 100; ++i) {
    if (!redis.running()) throw std::runtime_error("redis-server exited at start (see its log)");
    try {
      queue::Redis(url, 1.0).command({"PING"});
      return;
    } catch (const queue::RedisError&) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  throw std::runtime_error("redis-server did not answer within 10 s");
}

bool has_model(const std::string& folder, const std::string& name) {
  auto installed = list_installed_models(folder);
  for (const auto& list : {installed.bags, installed.singles})
    for (const auto& n : list)
      if (n == name || n.rfind(name + "-", 0) == 0) return true;
  return false;
}

// Waits for SIGINT/SIGTERM while every child keeps running; returns the child that stopped, or
// nullptr when a signal came.
ChildProcess* wait_for_stop(std::vector<std::unique_ptr<ChildProcess>>& children) {
  while (true) {
    if (service::wait_for_stop_signal(0.2)) return nullptr;
    for (auto& child : children)
      if (!child->running()) return child.get();
  }
}

}  // namespace

int run_up(UpOptions o, const CLI::App& command) {
  service::install_stop_signals();
  auto& c = o.config;
  bool own_redis = command.count("--redis-url") == 0 && !std::getenv("MSAAS_REDIS_URL");
  std::vector<std::unique_ptr<ChildProcess>> children;  // stopped in reverse order
  try {
    fs::path data = fs::absolute(o.data);
    for (const char* sub : {"redis", "storage", "spool", "work", "logs"})
      fs::create_directories(data / sub);
    if (command.count("--storage-dir") == 0 && !std::getenv("MSAAS_STORAGE_DIR"))
      c.storage.root = (data / "storage").string();
    c.spool_dir = (data / "spool").string();
    c.work_dir = (data / "work").string();
    if (c.models_dir.empty()) c.models_dir = default_models_folder();
    service::validate(c);
    if (!has_model(c.models_dir, c.default_model))
      std::cerr << "msaas: warning: the default model " << c.default_model << " is not in "
                << c.models_dir << "; get it with: msaas models pull " << c.default_model
                << " (or pick one with --default-model)\n";
    if (own_redis) {
      int port = free_loopback_port();
      c.redis_url = "redis://127.0.0.1:" + std::to_string(port);
      // Persistence on (append-only file) so a restart keeps the queue.
      children.push_back(std::make_unique<ChildProcess>(
          "redis-server",
          std::vector<std::string>{find_program("redis-server"), "--port", std::to_string(port),
                                   "--bind", "127.0.0.1", "--dir", (data / "redis").string(),
                                   "--appendonly", "yes", "--appendfsync", "always", "--save", "",
                                   "--protected-mode", "yes"},
          std::map<std::string, std::string>{}, (data / "logs" / "redis.log").string()));
      wait_for_redis(c.redis_url, *children.back());
    }
    std::ofstream(data / "redis.url") << c.redis_url << "\n";
    auto env = service::to_environment(c);
    std::string bin = program_folder();
    fs::path port_file = data / "api.port";
    fs::remove(port_file);
    children.push_back(std::make_unique<ChildProcess>(
        "msaas-api",
        std::vector<std::string>{bin + "/msaas-api", "--port-file", port_file.string()}, env,
        (data / "logs" / "api.log").string()));
    for (int i = 0; i < o.workers; ++i)
      children.push_back(std::make_unique<ChildProcess>(
          "msaas-worker", std::vector<std::string>{bin + "/msaas-worker"}, env,
          (data / "logs" / ("worker-" + std::to_string(i + 1) + ".log")).string()));
    for (int i = 0; i < 300 && !fs::exists(port_file); ++i) {
      if (!children[own_redis ? 1 : 0]->running())
        throw std::runtime_error("msaas-api exited at start; see " +
                                 (data / "logs" / "api.log").string());
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    int port = c.port;
    if (fs::exists(port_file)) std::ifstream(port_file) >> port;
    std::cout << "MSaaS is up: http://" << c.host << ":" << port << "/  (models: " << c.models_dir
              << ", default " << c.default_model << "; logs: " << (data / "logs").string()
              << " or `msaas logs`; Ctrl-C stops it)" << std::endl;
    ChildProcess* stopped = wait_for_stop(children);
    int status = 0;
    if (stopped) {
      std::cerr << "msaas: error: " << stopped->name() << " stopped unexpectedly; see "
                << (data / "logs").string() << "\n";
      status = 1;
    } else {
      std::cerr << "msaas: stopping (workers finish or hand back their jobs)\n";
    }
    for (auto it = children.rbegin(); it != children.rend(); ++it)
      (*it)->stop((*it)->name() == "msaas-worker" ? c.grace_s + 5.0 : 10.0);
    return status;
  } catch (const std::exception& e) {
    std::cerr << "msaas: error: " << e.what() << "\n";
    for (auto it = children.rbegin(); it != children.rend(); ++it) (*it)->stop(5.0);
    return 1;
  }
}

CLI::App* add_logs_command(CLI::App& app, LogsOptions& o) {
  auto* cmd = app.add_subcommand("logs", "Print the service's log lines from Redis as they come");
  cmd->add_option("--redis-url", o.redis_url,
                  "Redis URL (default: $MSAAS_REDIS_URL, else the one msaas up wrote in var/)");
  cmd->add_flag("--once", o.once, "Print the lines waiting and exit");
  return cmd;
}

int run_logs(const LogsOptions& o) {
  std::string url = o.redis_url;
  if (url.empty() && std::getenv("MSAAS_REDIS_URL")) url = std::getenv("MSAAS_REDIS_URL");
  if (url.empty()) std::ifstream("var/redis.url") >> url;
  if (url.empty()) url = "redis://127.0.0.1:6379";
  try {
    queue::Redis redis(url, 5.0);
    while (true) {
      // Lines are pushed on the left: the right end holds the oldest.
      auto line = queue::pop_log_line(redis, o.once ? 0.1 : 1);
      if (!line) {
        if (o.once) return 0;
        continue;
      }
      std::cout << *line << std::endl;
    }
  } catch (const std::exception& e) {
    std::cerr << "msaas: error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace msaas::cli

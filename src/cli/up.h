// cli/up.h: `msaas up`: the whole service on one machine: a private redis-server on a free
// loopback port (data under ./var), msaas-api on 127.0.0.1:8080 and one msaas-worker, stopped
// cleanly on Ctrl-C. `msaas logs` follows the service's Redis log list.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "service/config.h"

namespace msaas::cli {

struct UpOptions {
  service::ServiceConfig config;
  std::string data = "var";  // redis data, storage, spool and logs live here
  int workers = 1;
};

CLI::App* add_up_command(CLI::App& app, UpOptions& options);
int run_up(UpOptions options, const CLI::App& command);

struct LogsOptions {
  std::string redis_url;  // default: $MSAAS_REDIS_URL, else the one `msaas up` wrote in var/
  bool once = false;      // print what is waiting and exit
};

CLI::App* add_logs_command(CLI::App& app, LogsOptions& options);
int run_logs(const LogsOptions& options);

}  // namespace msaas::cli

// api/main.cpp: the msaas-api program: settings from flags and MSAAS_* variables, then serve
// until SIGTERM/SIGINT.
#include <csignal>
#include <iostream>
#include <thread>

#include "api/server.h"
#include "service/log.h"
#include "service/stop_signals.h"

int main(int argc, char** argv) {
  using namespace msaas;
  service::ServiceConfig config = service::config_from_environment_or_exit("msaas-api");
  CLI::App app{"msaas-api: the MSaaS REST API and web page"};
  service::add_common_flags(app, config);
  app.add_option("--host", config.host, "Address to listen on ($MSAAS_HOST)")
      ->capture_default_str();
  app.add_option("--port", config.port, "Port, 0 = any free one ($MSAAS_PORT)")
      ->capture_default_str();
  app.add_option("--max-upload-bytes", config.max_upload_bytes,
                 "Largest accepted upload ($MSAAS_MAX_UPLOAD_BYTES)")
      ->capture_default_str();
  app.add_option("--spool-dir", config.spool_dir,
                 "Folder for uploads on their way in "
                 "($MSAAS_SPOOL_DIR)")
      ->capture_default_str();
  app.add_option("--web-dir", config.web_dir,
                 "The built page (web/build.mjs) ($MSAAS_WEB_DIR; "
                 "default: web/ beside this program)");
  std::string port_file;
  app.add_option("--port-file", port_file, "Write the port here once listening (for tests)");
  CLI11_PARSE(app, argc, argv);

  service::install_stop_signals();
  try {
    service::validate(config);
    queue::RedisPool log_pool(config.redis_url);
    service::init_logging("msaas-api", &log_pool);
    api::ApiServer server(config);
    service::on_stop_signal([&server](int signal) {
      service::log_info("signal " + std::to_string(signal) + ": stopping");
      server.stop();
    });
    if (!port_file.empty()) {
      // Written by a thread once the socket is bound, so a reader can connect at once.
      std::thread([&server, port_file] {
        while (server.port() <= 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
        std::string temp = port_file + ".tmp";
        if (FILE* f = std::fopen(temp.c_str(), "w")) {
          std::fprintf(f, "%d\n", server.port());
          std::fclose(f);
          std::rename(temp.c_str(), port_file.c_str());
        }
      }).detach();
    }
    if (!server.listen()) {
      std::cerr << "msaas-api: error: cannot listen on " << config.host << ":" << config.port
                << "\n";
      return 1;
    }
    service::init_logging("msaas-api", nullptr);
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "msaas-api: error: " << e.what() << "\n";
    return 1;
  }
}

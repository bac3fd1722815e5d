// service/child_process.h: starting and stopping the programs `msaas up` runs (redis-server,
// msaas-api, msaas-worker). Each child gets its own process group, so Ctrl-C reaches only
// `msaas up`, which then stops them in order; and each gets SIGTERM if its parent dies first.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

namespace msaas::service {

class ChildProcess {
 public:
  // Starts argv[0] (a path) with extra environment variables; output goes to `log_path`
  // (appended) when given. Throws std::runtime_error when it cannot start.
  ChildProcess(std::string name, const std::vector<std::string>& argv,
               const std::map<std::string, std::string>& env = {},
               const std::string& log_path = "");
  ~ChildProcess();  // kills the child if still running
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  const std::string& name() const { return name_; }
  pid_t pid() const { return pid_; }
  // True while the child runs (reaps it without blocking otherwise).
  bool running();
  // SIGTERM, then SIGKILL after `grace_s`; returns the exit status (or 128 + signal).
  int stop(double grace_s);

 private:
  std::string name_;
  pid_t pid_ = -1;
  int status_ = -1;
};

// A TCP port on 127.0.0.1 that was free a moment ago.
int free_loopback_port();

}  // namespace msaas::service

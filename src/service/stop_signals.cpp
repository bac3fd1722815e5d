// service/stop_signals.cpp: see stop_signals.h.
#include "service/stop_signals.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <thread>

namespace msaas::service {

namespace {

int g_pipe[2] = {-1, -1};

void on_signal(int signal) {
  int saved = errno;
  unsigned char byte = static_cast<unsigned char>(signal);
  [[maybe_unused]] ssize_t n = write(g_pipe[1], &byte, 1);
  errno = saved;
}

}  // namespace

void install_stop_signals() {
  if (g_pipe[0] >= 0) return;
  if (pipe2(g_pipe, O_CLOEXEC | O_NONBLOCK) != 0) throw std::runtime_error("cannot make a pipe");
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
  signal(SIGPIPE, SIG_IGN);
  // A write past a file-size limit must fail like a full disk (EFBIG), not kill the program.
  signal(SIGXFSZ, SIG_IGN);
}

void on_stop_signal(std::function<void(int)> action) {
  std::thread([action = std::move(action)] { action(wait_for_stop_signal()); }).detach();
}

int wait_for_stop_signal(double timeout_s) {
  pollfd fd{g_pipe[0], POLLIN, 0};
  int ready = poll(&fd, 1, timeout_s < 0 ? -1 : static_cast<int>(timeout_s * 1000));
  if (ready <= 0) return 0;
  unsigned char byte = 0;
  if (read(g_pipe[0], &byte, 1) != 1) return 0;
  return byte;
}

}  // namespace msaas::service

// service/stop_signals.h: SIGTERM and SIGINT as a request to stop. A handler writes the signal to
// a pipe that a thread waits on. (Blocking the signals does not work here: libraries such as
// OpenBLAS start threads before main, and the kernel may hand the signal to one of those.)
#pragma once

#include <functional>

namespace msaas::service {

// Installs the handlers; call once, early in main.
void install_stop_signals();
// Waits up to `timeout_s` (negative: forever) for SIGTERM/SIGINT; returns the signal or 0.
int wait_for_stop_signal(double timeout_s = -1);
// Calls `action` with the signal from a background thread when SIGTERM/SIGINT arrives.
void on_stop_signal(std::function<void(int)> action);

}  // namespace msaas::service

// cli/timings.cpp: see timings.h.
#include "cli/timings.h"

#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace msaas::cli {

double seconds_since_exec() {
  // Field 22 of /proc/self/stat: the start time in clock ticks since boot (the fork; the exec
  // of `msaas`, the launcher, and its own of msaas-cli follow within a millisecond or two). The
  // command name (field 2) may hold spaces and parentheses, so fields are counted from its last
  // closing parenthesis.
  std::ifstream stat("/proc/self/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  auto close = text.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(text.substr(close + 2));
  std::string field;
  for (int i = 3; i <= 22 && fields >> field; ++i) {
  }
  timespec now{};
  clock_gettime(CLOCK_BOOTTIME, &now);
  char* end = nullptr;
  double ticks = std::strtod(field.c_str(), &end);
  if (end == field.c_str()) return 0;  // not what Linux writes: no figure rather than a wrong one
  return now.tv_sec + now.tv_nsec / 1e9 - ticks / sysconf(_SC_CLK_TCK);
}

PhaseTimings::PhaseTimings() : last_(std::chrono::steady_clock::now()) {
  phases_.emplace_back("start", seconds_since_exec());
}

void PhaseTimings::mark(const std::string& phase) {
  auto now = std::chrono::steady_clock::now();
  phases_.emplace_back(phase, std::chrono::duration<double>(now - last_).count());
  last_ = now;
}

std::string PhaseTimings::line() const {
  std::string out;
  double total = 0;
  char buffer[64];
  for (const auto& [name, seconds] : phases_) {
    std::snprintf(buffer, sizeof buffer, "%s%s %.2f s", out.empty() ? "" : ", ", name.c_str(),
                  seconds);
    out += buffer;
    total += seconds;
  }
  std::snprintf(buffer, sizeof buffer, "; total %.2f s", total);
  return out + buffer;
}

}  // namespace msaas::cli

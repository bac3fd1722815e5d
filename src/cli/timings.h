// cli/timings.h: where a command's wall time went, phase by phase (`msaas separate --timings`).
// The first phase, "start", is the time from the process's start to the object's creation: loading
// the program's libraries (libtorch's are large) and their static initialisers.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace msaas::cli {

class PhaseTimings {
 public:
  PhaseTimings();
  // Ends the phase running since the last mark and names it.
  void mark(const std::string& phase);
  // "start 0.68 s, model 0.41 s, ...; total 7.90 s"
  std::string line() const;

 private:
  std::chrono::steady_clock::time_point last_;
  std::vector<std::pair<std::string, double>> phases_;
};

// Seconds since this process started, from the kernel's record of its start (10 ms steps; 0
// where that record cannot be read).
double seconds_since_exec();

}  // namespace msaas::cli

// cli/progress.h: progress of a long separation: a bar on a terminal, plain lines otherwise.
#pragma once

#include <chrono>
#include <cstdio>
#include <string>

namespace msaas::cli {

class ProgressReport {
 public:
  // audio_seconds: how much audio the work covers, shown beside the bar (0: not shown).
  ProgressReport(std::string label, double audio_seconds, std::FILE* out = stderr);
  void update(double fraction);
  void done();

 private:
  std::string label_;
  double audio_seconds_;
  std::FILE* out_;
  bool terminal_;
  int last_step_ = -1;  // last printed percent (terminal) or tenth (plain)
  std::chrono::steady_clock::time_point start_;
};

}  // namespace msaas::cli

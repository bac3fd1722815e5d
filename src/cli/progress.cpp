// cli/progress.cpp: see progress.h.
#include "cli/progress.h"

#include <unistd.h>

#include <algorithm>

namespace msaas::cli {

ProgressReport::ProgressReport(std::string label, double audio_seconds, std::FILE* out)
    : label_(std::move(label)),
      audio_seconds_(audio_seconds),
      out_(out),
      terminal_(isatty(fileno(out))),
      start_(std::chrono::steady_clock::now()) {}

void ProgressReport::update(double fraction) {
  fraction = std::clamp(fraction, 0.0, 1.0);
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  if (terminal_) {
    int percent = static_cast<int>(fraction * 100);
    if (percent == last_step_) return;
    last_step_ = percent;
    const int width = 30;
    int filled = static_cast<int>(fraction * width);
    std::string bar(filled, '#');
    bar.resize(width, '.');
    std::fprintf(out_, "\r%s [%s] %3d%%", label_.c_str(), bar.c_str(), percent);
    if (audio_seconds_ > 0)
      std::fprintf(out_, "  %.1f/%.1f s of audio", fraction * audio_seconds_, audio_seconds_);
    std::fprintf(out_, ", %.0f s", elapsed);
  } else {
    int tenth = static_cast<int>(fraction * 10);
    if (tenth == last_step_) return;
    last_step_ = tenth;
    std::fprintf(out_, "%s: %d%% (%.0f s)\n", label_.c_str(), tenth * 10, elapsed);
  }
  std::fflush(out_);
}

void ProgressReport::done() {
  update(1.0);
  if (terminal_) std::fputc('\n', out_);
  std::fflush(out_);
}

}  // namespace msaas::cli

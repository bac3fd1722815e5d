// queue/stats.cpp: see stats.h.
#include "queue/stats.h"

#include <string>

#include "queue/keys.h"

namespace msaas::queue {

void count_separation(RedisPool& pool, double separation_seconds, double audio_seconds) {
  auto connection = pool.acquire();
  connection->command(
      {"HINCRBYFLOAT", keys::kStats, "separation_seconds", std::to_string(separation_seconds)});
  connection->command(
      {"HINCRBYFLOAT", keys::kStats, "audio_seconds", std::to_string(audio_seconds)});
}

Totals read_totals(RedisPool& pool) {
  auto flat = pool.command({"HGETALL", keys::kStats});
  Totals totals;
  for (size_t i = 0; i + 1 < flat.elements.size(); i += 2) {
    const std::string& name = flat.elements[i].str;
    double value = std::stod(flat.elements[i + 1].str);
    if (name == "done") totals.done = value;
    if (name == "failed") totals.failed = value;
    if (name == "separation_seconds") totals.separation_seconds = value;
    if (name == "audio_seconds") totals.audio_seconds = value;
  }
  return totals;
}

}  // namespace msaas::queue

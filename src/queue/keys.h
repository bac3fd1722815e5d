// queue/keys.h: every Redis key MSaaS uses, in one place. Nothing outside queue/ names a key.
// The Lua scripts (scripts.h) get theirs as KEYS from the functions below, except where a script
// learns a job's id only as it runs (the reaper's and the dead-letter moves): there it builds
// `job:<id>` and `callbacks:<id>` itself, reads the id back from `job:<id>` (after its 4
// characters), and counts `generations`: keep those in step with job() and callbacks().
#pragma once

#include <string>

namespace msaas::queue::keys {

// The queue and the job lifecycle (jobs.h, scripts.h).
inline const std::string kQueue = "toWorker";            // messages waiting, newest on the left
inline const std::string kDeadletter = "deadletter";     // messages that failed too often
inline const std::string kExpiries = "expiries";         // finished job ids scored by expiry time
inline const std::string kDelayed = "delayed";           // retries scored by when they may run
inline const std::string kSuspects = "reaper:suspects";  // workers seen without a lease
inline const std::string kReaperLock = "reaper:lock";    // one reaper at a time
inline const std::string kGenerations = "generations";   // the counter of job generations
inline const std::string kProcessingPrefix = "processing:";
inline std::string job(const std::string& id) {
  return "job:" + id;
}
inline std::string processing(const std::string& worker) {
  return kProcessingPrefix + worker;
}
inline std::string lease(const std::string& worker) {
  return "lease:" + worker;
}
inline std::string callbacks(const std::string& id) {
  return "callbacks:" + id;
}

// Files waiting to be deleted (trash.h) and callbacks waiting to be sent (outbox.h).
inline const std::string kTrash = "trash";
inline const std::string kOutbox = "outbox";
inline const std::string kOutboxTries = "outbox:tries";

// Counters for /metrics (stats.h): done, failed, separation_seconds, audio_seconds.
inline const std::string kStats = "stats";

// The models each live worker can run (model_registry.h).
inline std::string models(const std::string& worker) {
  return "models:" + worker;
}
inline const std::string kModelsPattern = "models:*";

// The original API's songs: which job separates a song for an owner (song_index.h).
inline std::string song(const std::string& owner, const std::string& hash) {
  return "apiv1:" + (owner.empty() ? "" : owner + ":") + hash;
}

// Requests counted per client and minute, for the rate limit (rate_counter.h).
inline std::string requests(const std::string& client, long long minute) {
  return "rate:" + client + ":" + std::to_string(minute);
}

// The logging channel's list (log_list.h).
inline const std::string kLogging = "logging";

}  // namespace msaas::queue::keys

// queue/jobs.h: separation jobs in Redis. A job is a JSON message on the list `toWorker` plus a
// record in the hash `job:<id>`. A worker claims a job with BLMOVE into its own list
// `processing:<worker>` and keeps the key `lease:<worker>` alive while it lives; the reaper hands
// the jobs of workers whose lease expired back to `toWorker` (attempts + 1), or after the limit
// to `deadletter`, reported failed. The same upload with the same settings is the same job.
// Who may change a job, which files are whose, and where callbacks wait: see scripts.h.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "queue/job_record.h"
#include "queue/job_settings.h"
#include "queue/redis.h"
#include "queue/trash.h"

namespace msaas::queue {

// What to separate and how: the message on the queue (all but the callback, which stays apart
// as the caller wrote it: see scripts.h).
struct JobSpec {
  std::string id;             // job_id(hash, settings)
  std::string hash;           // SHA-224 hex of the uploaded bytes (the original API's songhash)
  std::string upload;         // object name in the `queue` bucket, this submission's own
  JobSettings settings;       // model, stems, format
  std::string bad_settings;   // why the message's settings do not parse ("" when they do)
  std::string api = "v1";     // which API made it: "apiv1" or "v1"
  std::string callback_url;   // this submission's callback ("" for none) ...
  std::string callback_data;  // ... and its data (apiv1), JSON text as the caller wrote it
  int attempts = 0;           // times a worker was lost or failed on it
  int handbacks = 0;          // times a worker stopping gave it back unfinished
  std::string owner;          // the API key's name that made it ("" when keys are off)
};

nlohmann::json to_json(const JobSpec& spec);
JobSpec job_from_json(const nlohmann::json& j);
// The job id of an upload with its settings: the first 32 hex characters of a SHA-224 of the
// upload's hash and the settings.
// With API keys on, the owner is part of it: keys never share jobs.
std::string job_id(const std::string& hash, const JobSettings& settings,
                   const std::string& owner = "");

struct QueueSettings {
  int lease_s = 30;          // a worker silent this long is presumed dead
  int max_attempts = 3;      // lost/failed this many times -> deadletter
  int retention_s = 86400;   // finished jobs (and their files) are kept this long
  int retry_backoff_s = 10;  // first wait before a failed job is retried; doubles each time
  int free_handbacks = 2;    // hand-backs (worker stopping) before each one counts as an attempt
};

// A job a worker holds: the exact message (to remove it from its list), the spec, and the run's
// number, the fencing token every later step is checked against.
struct Claim {
  std::string message;
  JobSpec spec;
  long long run = 0;
};

struct EnqueueResult {
  std::string id;
  bool created = false;  // false: the same job already existed (queued, running or done)
  std::string status;    // "needs-upload": no upload came with a job that must be created
};

enum class HandBack { queued, counted_as_attempt, not_ours };

// A job just removed: its record, and the files that became trash with it.
struct RemovedJob {
  JobRecord record;
  std::vector<TrashItem> files;
};

class JobQueue {
 public:
  JobQueue(RedisPool& pool, QueueSettings settings) : pool_(pool), settings_(settings) {}
  const QueueSettings& settings() const { return settings_; }

  // Creates the job, or joins an existing one (adding this submission's callback). `spec.upload`
  // may be empty to ask first: an existing job needs no upload ("needs-upload" otherwise). The
  // upload's trash hold (Trash::hold) is released when the job takes it, made due when not.
  EnqueueResult enqueue(const JobSpec& spec);

  // Worker side. `redis` is the worker's own connection (BLMOVE blocks on it).
  // Waits up to timeout_s for a job; messages of jobs deleted, finished or started meanwhile are
  // dropped here.
  std::optional<Claim> claim(Redis& redis, const std::string& worker, double timeout_s);
  void heartbeat(const std::string& worker);
  // A worker stopping: its lease goes at once (its list is empty; nothing to reap).
  void sign_off(const std::string& worker);
  // Records progress; false when this run no longer owns the job (deleted, given to another
  // worker): the worker then stops.
  bool progress(const std::string& worker, const Claim& claim, int percent,
                const std::string& stage);
  // Records what of the stems this run has published so far (listening while it separates);
  // false, like progress, when this run no longer owns the job.
  bool publish_live(const std::string& worker, const Claim& claim, const LiveStems& live);
  // Marks the job done with extra record fields (outputs, timings); counts it in `stats`;
  // `files` (this run's output trash members) stop being trash. False when this run no longer
  // owns the job: nothing changed, the caller's files are not the job's.
  bool complete(const std::string& worker, const Claim& claim, const nlohmann::json& fields,
                const std::vector<std::string>& files);
  // A job that cannot succeed (not audio, unknown stem): failed at once, no retry.
  bool fail(const std::string& worker, const Claim& claim, const std::string& error);
  // A job that might succeed later (storage down): back on the queue with attempts + 1, or to
  // the deadletter list when that reaches the limit.
  void retry(const std::string& worker, const Claim& claim, const std::string& error);
  // Puts a job back (graceful shutdown), first in line; past the free hand-backs it counts as a
  // failed attempt with `why`.
  HandBack hand_back(const std::string& worker, const Claim& claim, const std::string& why);
  // Puts a job back that was never worked on (a stop just after claiming it), without counting
  // a hand-back.
  void give_back(const std::string& worker, const Claim& claim);
  // Returns the jobs of workers whose lease has been missing for a whole lease; how many were
  // moved. Cheap when none.
  int reap();
  // Moves retries whose wait is over back onto the queue; how many.
  int promote_due(long long now_s);
  // Hands back whatever is left on this worker's own list (a job it lost track of while Redis
  // was unreachable): called by a worker between jobs, when it holds none.
  int recover(const std::string& worker);
  // Removes finished jobs past their retention (their files become trash); how many.
  int take_expired(long long now_s);
  // take_expired's step for one id read as due: removes the job only if it is still due by
  // `now_s` (not submitted again in between). Returns what was removed.
  std::optional<RemovedJob> expire(const std::string& id, long long now_s);

  // Readers.
  std::optional<JobRecord> get(const std::string& id);
  bool exists(const std::string& id);
  // Removes a job: from the queue if waiting, its record, its pending callbacks; its files
  // become trash. Returns what was removed.
  std::optional<RemovedJob> remove(const std::string& id);
  // Removes one output (by storage key) of a done job; false when it has no such output.
  bool drop_output(const std::string& id, const std::string& key);
  std::vector<JobSpec> waiting();  // oldest first
  long long waiting_count();
  long long delayed_count();  // failed attempts waiting for their retry
  // Callbacks and expiries due by `now_s`: work for the workers' housekeeping.
  long long housekeeping_due(long long now_s);
  long long running_count();

 private:
  RedisPool& pool_;
  QueueSettings settings_;
};

// Seconds since the epoch.
long long now_seconds();

}  // namespace msaas::queue

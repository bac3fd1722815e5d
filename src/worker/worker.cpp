// worker/worker.cpp: see worker.h.
#include "worker/worker.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "audio/audio.h"
#include "common/text.h"
#include "msaas/models.h"
#include "queue/model_registry.h"
#include "queue/stats.h"
#include "service/file_sweeper.h"
#include "service/log.h"
#include "worker/callback.h"
#include "worker/live_parts.h"
#include "worker/scratch_folder.h"
#include "worker/separate_job.h"

namespace msaas::worker {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string make_worker_id() {
  char host[256] = "worker";
  gethostname(host, sizeof host - 1);
  std::random_device random;
  char suffix[8];
  std::snprintf(suffix, sizeof suffix, "%04x", random() & 0xffff);
  return std::string(host) + "-" + std::to_string(getpid()) + "-" + suffix;
}

// Shifts are random in the official tool; seeding them from the job id makes a re-run of the
// same job give the same stems.
uint64_t seed_from(const std::string& id) {
  return std::stoull(id.substr(0, 15), nullptr, 16);
}

// How long a run's stems may take to upload before, if the run never completes, they count as
// trash (a worker that died mid-upload).
constexpr long long kOutputHoldSeconds = 6 * 3600;

// How long a done job's live parts stay for listeners still streaming from them: a listener
// who started early reads at playback speed, so for up to the song's length, plus a margin.
long long live_parts_kept_seconds(double song_seconds) {
  return 600 + static_cast<long long>(song_seconds);
}

// A callback being sent is someone else's to send after this long (one try takes 5 s at most).
constexpr int kCallbackLeaseSeconds = 120;
constexpr int kCallbackTries = 3;
constexpr int kCallbacksAtOnce = 8;

// Storage transfers of the worker's own files give up rather than hold a job for ever on a peer
// that trickles: two minutes plus a second per megabyte.
double transfer_seconds(double bytes) {
  return 120 + bytes / 1e6;
}

// Interruptible sleep: returns early when `stop` turns true.
void nap(std::atomic<bool>& stop, double seconds) {
  auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!stop && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
}

}  // namespace

Worker::Worker(service::ServiceConfig config)
    : config_(std::move(config)),
      id_(make_worker_id()),
      pool_(config_.redis_url),
      queue_(pool_, config_.queue),
      trash_(pool_),
      outbox_(pool_),
      storage_(storage::make_storage(config_.storage)),
      scratch_(config_.work_dir, id_) {
  if (config_.models_dir.empty()) config_.models_dir = default_models_folder();
}

Worker::~Worker() = default;

void Worker::request_stop() {
  if (!stop_.exchange(true)) stop_at_ = queue::now_seconds();
}

bool Worker::keep_going() {
  return !stop_ || queue::now_seconds() - stop_at_ < config_.grace_s;
}

void Worker::publish_models() {
  auto installed = list_installed_models(config_.models_dir);
  std::vector<std::string> names = installed.bags;
  names.insert(names.end(), installed.singles.begin(), installed.singles.end());
  queue::publish_models(pool_, id_, names, config_.queue.lease_s);
}

// Work for the whole queue, done by every worker in turn (the reaper holds a lock). Redis only:
// kept apart from the storage and network work below, which a stalled peer can hold up.
void Worker::housekeeping() {
  if (int moved = queue_.reap())
    service::log_warning("returned " + std::to_string(moved) + " job(s) of stopped workers");
  queue_.promote_due(queue::now_seconds());
  if (int expired = queue_.take_expired(queue::now_seconds()))
    service::log_info(std::to_string(expired) + " finished job(s) expired");
}

// Deleting trash and sending callbacks: slow peers hold up only this thread, each pass has a
// time budget, and a shutdown cuts the storage calls short.
void Worker::deliveries() {
  storage::TransferLimit stop_with_us(60, &finished_);
  service::sweep_trash(trash_, *storage_, config_);
  send_callbacks();
}

// A few at once, one try each: a failed try is due again 1 s, then 2 s later, through the
// outbox, so a receiver that never answers holds up no one else for long.
void Worker::send_callbacks() {
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!finished_ && std::chrono::steady_clock::now() < until) {
    auto due = outbox_.take_due(queue::now_seconds(), kCallbacksAtOnce, kCallbackLeaseSeconds);
    if (due.empty()) return;
    std::vector<std::thread> senders;
    for (const auto& entry : due) {
      try {
        senders.emplace_back([this, entry] { send_callback(entry); });
      } catch (const std::system_error&) {
        send_callback(entry);  // no thread to be had (a pids limit): here, then
      }
    }
    for (auto& sender : senders) sender.join();
  }
}

void Worker::send_callback(const queue::OutboxEntry& entry) {
  try {
    // A job deleted since it ended (and perhaps submitted again) gets no callback of its old end.
    auto record = queue_.get(entry.job_id);
    if (!record || record->generation != entry.generation) return outbox_.forget(entry.member);
    std::string status = entry.ending.value("status", "");
    auto sent = post_callback(entry.url, callback_body(*record, entry), status,
                              config_.callback_allow_private);
    if (sent.outcome == Delivery::Outcome::refused)
      service::log_warning("callback to " + entry.url + " refused: " + sent.why);
    if (sent.outcome != Delivery::Outcome::failed) return outbox_.forget(entry.member);
    int tries = outbox_.failed_try(entry.member, queue::now_seconds());
    service::log_warning("callback to " + entry.url + " failed (try " + std::to_string(tries) +
                         " of " + std::to_string(kCallbackTries) + "): " + sent.why);
    if (tries >= kCallbackTries) outbox_.forget(entry.member);
  } catch (const std::exception& e) {
    service::log_warning("callback to " + entry.url + ": " + e.what());  // due again later
  }
}

void Worker::heartbeat_loop() {
  double period = std::max(0.2, config_.queue.lease_s / 3.0);
  // Beats go on after a stop request: the current job may run on for the grace period. The
  // liveness file says this process is alive, Redis or not: restarting would not bring Redis.
  while (!finished_) {
    if (!config_.heartbeat_file.empty())
      std::ofstream(config_.heartbeat_file, std::ios::trunc) << queue::now_seconds() << "\n";
    try {
      queue_.heartbeat(id_);
      publish_models();
    } catch (const std::exception& e) {
      service::log_warning(std::string("heartbeat: ") + e.what());
    }
    nap(finished_, period);
  }
}

void Worker::chores_loop(void (Worker::*chore)(), const char* name) {
  double period = std::max(0.2, config_.queue.lease_s / 3.0);
  while (!finished_) {
    try {
      (this->*chore)();
    } catch (const std::exception& e) {
      service::log_warning(std::string(name) + ": " + e.what());
    }
    nap(finished_, period);
  }
}

const Separator& Worker::model(const std::string& name) {
  if (!loaded_ || loaded_name_ != name) {
    loaded_.reset();  // one model in memory at a time
    loaded_ = Separator::from_repo(name, config_.models_dir, config_.device);
    loaded_name_ = name;
    service::log_info("loaded model " + name + " on " + loaded_->device() + " (" +
                      compute_summary() + ")");
  }
  return *loaded_;
}

void Worker::process(const queue::Claim& claim) {
  const auto& spec = claim.spec;
  fs::path dir = scratch_.folder() / spec.id;
  ScratchFolder::Job job_files(dir);  // removed on every way out, exceptions included
  auto started = std::chrono::steady_clock::now();
  bool lost = false;
  std::unique_ptr<LiveParts> live;
  auto progress = [&](const std::string& stage, int percent) {
    try {
      if (!queue_.progress(id_, claim, percent, stage)) {
        lost = true;
        return false;
      }
    } catch (const queue::RedisError& e) {
      // Redis away for a moment: the separation goes on; the record catches up later.
      service::log_warning("job " + spec.id + ": progress not recorded: " + e.what());
    }
    return keep_going();
  };
  try {
    service::log_info("job " + spec.id + ": " + spec.settings.model + ", stems " +
                      spec.settings.stems.text() + ", " + queue::format_name(spec.settings.format) +
                      " (attempt " + std::to_string(spec.attempts + 1) + ", run " +
                      std::to_string(claim.run) + ")");
    if (!spec.bad_settings.empty()) throw JobError(spec.bad_settings);
    if (!progress("downloading", 1)) throw Cancelled();
    job_files.create();
    fs::path input = dir / ("input" + fs::path(spec.upload).extension().string());
    {
      std::optional<int64_t> size;
      {
        storage::TransferLimit asking(30);
        size = storage_->size(config_.upload_bucket, spec.upload);
      }
      storage::TransferLimit limit(transfer_seconds(size.value_or(0)));
      storage_->get_file(config_.upload_bucket, spec.upload, input);
    }
    if (!progress("loading model", 2)) throw Cancelled();
    const Separator* separator;
    try {
      separator = &model(spec.settings.model);
    } catch (const ModelError& e) {
      throw JobError(e.what());
    }
    SeparationOptions options;
    options.shifts = config_.shifts;
    options.threads = config_.threads;
    options.seed = seed_from(spec.id);
    options.fast = config_.fast;
    if (config_.live_part_seconds > 0)
      live = std::make_unique<LiveParts>(
          LiveParts::Target{
              *storage_, config_.output_bucket, trash_,
              [&](const queue::LiveStems& l) { return queue_.publish_live(id_, claim, l); }},
          spec.id, claim.run, config_.live_part_seconds, dir / "parts");
    auto result = separate_job(*separator, input, spec.settings, options, dir, progress,
                               config_.max_audio_seconds, live.get());
    if (!progress("uploading", 97)) throw Cancelled();
    double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (finish_successfully(claim, result, wall) && live) {
      // Listeners part-way through a stream read on from the parts for a while.
      live->stop();
      try {
        trash_.reschedule(live->trash_members(),
                          queue::now_seconds() + live_parts_kept_seconds(result.audio_seconds));
      } catch (const std::exception& e) {
        service::log_warning("job " + spec.id + ": live parts left to expire: " + e.what());
      }
      live.reset();
    }
  } catch (const Cancelled&) {
    if (lost) {
      queue_.fail(id_, claim, "lost");  // the job is not ours: this only clears our list
      service::log_warning("job " + spec.id + ": deleted or taken over while running, dropped");
    } else {
      hand_back(claim);
    }
  } catch (const JobError& e) {
    queue_.fail(id_, claim, e.what());
    service::log_error("job " + spec.id + " failed: " + e.what());
  } catch (const audio::AudioError& e) {
    // The message names our scratch file; the user knows it as their upload.
    std::string message = e.what();
    std::string scratch = (dir / ("input" + fs::path(spec.upload).extension().string())).string();
    for (size_t at; (at = message.find(scratch)) != std::string::npos;)
      message.replace(at, scratch.size(), "the uploaded file");
    queue_.fail(id_, claim, message);
    service::log_error("job " + spec.id + " failed: " + message);
  } catch (const std::exception& e) {
    // Storage or Redis trouble: worth another try, up to the limit.
    queue_.retry(id_, claim, e.what());
    service::log_error("job " + spec.id + " will be retried: " + e.what());
  }
  if (live) give_up_live_parts(*live);
}

// A run that did not finish its job: its parts go now (a later run publishes its own).
void Worker::give_up_live_parts(LiveParts& live) {
  live.stop();
  try {
    trash_.release(live.trash_members());
  } catch (const std::exception& e) {
    service::log_warning(std::string("live parts left to expire: ") + e.what());
  }
}

void Worker::hand_back(const queue::Claim& claim) {
  const auto& id = claim.spec.id;
  std::string why = "stopped " + std::to_string(claim.spec.handbacks + 1) +
                    " times before it could finish: the workers' grace period (" +
                    std::to_string(config_.grace_s) + " s) is too short for this song";
  switch (queue_.hand_back(id_, claim, why)) {
    case queue::HandBack::queued:
      service::log_warning("job " + id + ": grace period over, handed back to the queue");
      break;
    case queue::HandBack::counted_as_attempt:
      service::log_warning("job " + id + ": grace period over again; counted as a failed attempt");
      break;
    case queue::HandBack::not_ours:
      service::log_warning("job " + id + ": grace period over; no longer ours, dropped");
      break;
  }
}

bool Worker::finish_successfully(const queue::Claim& claim, const JobResult& result,
                                 double wall_seconds) {
  const auto& spec = claim.spec;
  // Each run stores under its own prefix: a run that lost its job never overwrites the stems of
  // the run that owns it now.
  std::string prefix = spec.id + "/" + std::to_string(claim.run) + "/";
  std::vector<std::string> held;
  for (const auto& stem : result.stems) {
    std::string key = prefix + stem.path.filename().string();
    trash_.hold(queue::FileKind::output, key, queue::now_seconds() + kOutputHoldSeconds);
    held.push_back(queue::trash_member(queue::FileKind::output, key));
  }
  std::vector<queue::JobOutput> outputs;
  for (const auto& stem : result.stems) {
    std::string key = prefix + stem.path.filename().string();
    storage::TransferLimit limit(transfer_seconds(fs::file_size(stem.path)));
    storage_->put_file(config_.output_bucket, key, stem.path, stem.content_type);
    outputs.push_back({stem.name, key, stem.content_type,
                       static_cast<int64_t>(fs::file_size(stem.path)), stem.crc32});
  }
  double rtf = result.audio_seconds > 0 ? result.separation_seconds / result.audio_seconds : 0;
  bool ours = queue_.complete(
      id_, claim,
      {{"outputs", queue::outputs_text(outputs)}, {"seconds", result.audio_seconds}, {"rtf", rtf}},
      held);
  if (!ours) {
    trash_.release(held);
    service::log_warning("job " + spec.id + ": deleted or taken over while storing; stems dropped");
    return false;
  }
  try {  // counters for /metrics: their loss costs only a figure
    queue::count_separation(pool_, result.separation_seconds, result.audio_seconds);
  } catch (const queue::RedisError& e) {
    service::log_warning("job " + spec.id + ": statistics not counted: " + e.what());
  }
  service::log_info("job " + spec.id + " done: " + std::to_string(result.audio_seconds) +
                    " s of audio in " + std::to_string(wall_seconds) + " s");
  return true;
}

// Signatures of the checkpoints in `folder`, as the engine sees them (none when it cannot read
// the folder: the load error says why).
static std::vector<std::string> installed_signatures(const std::string& folder) {
  try {
    return list_installed_models(folder).singles;
  } catch (const ModelError&) {
    return {};
  }
}

// Why `name` cannot be loaded, in words an operator can act on: for an official model whose
// files are missing, which file, where, and how to get it.
static std::string missing_model_message(const std::string& name, const std::string& folder,
                                         const std::string& reason) {
  std::string text = "cannot load the default model " + name + " from " + folder + ": " + reason;
  if (const NamedModel* official = find_official_model(name)) {
    auto installed = installed_signatures(folder);
    std::vector<std::string> missing;
    for (const auto& f : official->files)
      if (std::find(installed.begin(), installed.end(), f.substr(0, f.find('-'))) ==
          installed.end())
        missing.push_back(f);
    if (!missing.empty())
      text += " (it needs " + common::joined(missing) +
              ": mount the models volume there, or run `msaas models pull " + name + " --repo " +
              folder + "`)";
  }
  return text + "; taking no jobs until it loads";
}

// A worker without its model stays up and not ready (liveness goes on, readiness does not), and
// takes no job it would only fail; the models volume may be filled after it started.
bool Worker::wait_for_default_model() {
  std::string said;
  while (!stop_) {
    try {
      model(config_.default_model);
      mark_ready(true);
      return true;
    } catch (const ModelError& e) {
      std::string why = missing_model_message(config_.default_model, config_.models_dir, e.what());
      if (why != said) service::log_error(why);
      said = why;
    }
    nap(stop_, 10);
  }
  return false;
}

// Containers start together: Redis may come up after us. Waiting beats a crash loop.
bool Worker::wait_for_redis() {
  std::string said;
  while (!stop_) {
    try {
      queue_.heartbeat(id_);
      return true;
    } catch (const queue::RedisError& e) {
      if (e.what() != said) service::log_warning(std::string("waiting for Redis: ") + e.what());
      said = e.what();
    }
    nap(stop_, 2);
  }
  return false;
}

void Worker::mark_ready(bool ready) {
  if (config_.ready_file.empty()) return;
  std::error_code ec;
  if (ready)
    std::ofstream(config_.ready_file, std::ios::trunc) << id_ << "\n";
  else
    fs::remove(config_.ready_file, ec);
}

int Worker::run() {
  mark_ready(false);
  try {
    for (const auto& bucket : {config_.upload_bucket, config_.output_bucket})
      storage_->ensure_bucket(bucket);
  } catch (const storage::StorageError& e) {
    // Storage may come back; jobs meanwhile are retried with backoff.
    service::log_warning(std::string("storage not ready at start: ") + e.what());
  }
  if (!wait_for_redis()) return 0;
  std::thread beats([this] { heartbeat_loop(); });
  std::thread chores([this] { chores_loop(&Worker::housekeeping, "housekeeping"); });
  std::thread sending([this] { chores_loop(&Worker::deliveries, "deliveries"); });
  if (wait_for_default_model())
    service::log_info("worker " + id_ + " ready: models in " + config_.models_dir + ", storage " +
                      storage_->describe());
  queue::Redis blocking(config_.redis_url, 10.0);
  int status = 0;
  while (!stop_) {
    try {
      // Holding no job now: anything on our list was lost track of (Redis went away while a
      // job ended); it goes back to the queue to be done again.
      if (int lost = queue_.recover(id_))
        service::log_warning("handed back " + std::to_string(lost) + " job(s) left on our list");
      auto claim = queue_.claim(blocking, id_, 1.0);
      if (claim && stop_) {
        queue_.give_back(id_, *claim);  // taken as the stop came: untouched, not counted
        service::log_info("job " + claim->spec.id + ": stopping; given back untouched");
      } else if (claim) {
        // What the job freed after its separation (encoding, uploads) goes back to the
        // system on every way out of process().
        struct ReleaseAfterTheJob {
          ~ReleaseAfterTheJob() { release_unused_memory(); }
        } release;
        process(*claim);
      }
    } catch (const std::exception& e) {
      service::log_error(std::string("worker loop: ") + e.what());
      nap(stop_, 1.0);
    }
  }
  finished_ = true;
  mark_ready(false);
  beats.join();
  chores.join();
  sending.join();
  try {
    queue::withdraw_models(pool_, id_);
    queue_.sign_off(id_);
  } catch (const std::exception&) {
  }
  service::log_info("worker " + id_ + " stopped");
  return status;
}

}  // namespace msaas::worker

// queue/jobs.cpp: see jobs.h. Every step that touches more than one key is a Lua script
// (scripts.h), so a crash between two commands can never lose or duplicate a job.
#include "queue/jobs.h"

#include <openssl/evp.h>

#include <chrono>
#include <limits>

#include "common/digest.h"
#include "queue/keys.h"
#include "queue/outbox.h"
#include "queue/scripts.h"
#include "queue/trash.h"

namespace msaas::queue {

using nlohmann::json;

namespace {

using namespace keys;

// The record's fields as strings for HSET; JSON values are stored as their text.
void append_fields(std::vector<std::string>& args, const json& fields) {
  for (const auto& [name, value] : fields.items()) {
    args.push_back(name);
    args.push_back(value.is_string() ? value.get<std::string>() : value.dump());
  }
}

// A message from before callbacks were kept apart carries the callback itself; it is moved to
// the job's callbacks when the job starts (scripts.h, start).
std::string legacy_callback(const json& message) {
  auto callback = message.value("callback", json());
  if (!callback.is_object() || !callback.contains("url") || !callback["url"].is_string()) return "";
  return callback_text(message.value("api", "v1"), callback["url"],
                       callback.contains("data") ? callback["data"].dump() : "");
}

JobRecord record_from_flat(const Reply& flat) {
  std::vector<std::string> fields;
  for (const auto& element : flat.elements) fields.push_back(element.str);
  return job_record_from_fields(fields);
}

}  // namespace

long long now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

json to_json(const JobSpec& s) {
  return {{"id", s.id},
          {"hash", s.hash},
          {"upload", s.upload},
          {"model", s.settings.model},
          {"stems", s.settings.stems.text()},
          {"format", format_name(s.settings.format)},
          {"api", s.api},
          {"attempts", s.attempts},
          {"handbacks", s.handbacks},
          {"owner", s.owner}};
}

JobSpec job_from_json(const json& j) {
  JobSpec s;
  s.id = j.at("id").get<std::string>();
  s.hash = j.value("hash", "");
  s.upload = j.value("upload", "");
  std::string model = j.value("model", ""), stems = j.value("stems", "4"),
              format = j.value("format", "mp3");
  try {
    s.settings = JobSettings::parse(model, stems, format);
  } catch (const SettingsError& e) {
    // Only a message written by hand gets here: the worker fails the job with the reason.
    s.settings = JobSettings::stored(model, stems, format);
    s.bad_settings = e.what();
  }
  s.api = j.value("api", "v1");
  s.attempts = j.value("attempts", 0);
  s.handbacks = j.value("handbacks", 0);
  s.owner = j.value("owner", "");
  return s;
}

std::string job_id(const std::string& hash, const JobSettings& settings, const std::string& owner) {
  std::string text = hash + "\n" + settings.model + "\n" + settings.stems.text() + "\n" +
                     format_name(settings.format);
  if (!owner.empty()) text += "\n" + owner;
  return common::digest_hex(text, EVP_sha224()).substr(0, 32);
}

EnqueueResult JobQueue::enqueue(const JobSpec& spec) {
  std::string message = spec.upload.empty() ? "" : to_json(spec).dump();
  long long now = now_seconds();
  std::string upload_member =
      spec.upload.empty() ? "" : trash_member(FileKind::upload, spec.upload);
  std::string callback = spec.callback_url.empty()
                             ? ""
                             : callback_text(spec.api, spec.callback_url, spec.callback_data);
  std::vector<std::string> args{message, upload_member, std::to_string(now), callback,
                                std::to_string(now + settings_.retention_s)};
  append_fields(args, {{"id", spec.id},
                       {"hash", spec.hash},
                       {"upload", spec.upload},
                       {"model", spec.settings.model},
                       {"stems", spec.settings.stems.text()},
                       {"format", format_name(spec.settings.format)},
                       {"api", spec.api},
                       {"owner", spec.owner},
                       {"status", "queued"},
                       {"stage", "queued"},
                       {"progress", "0"},
                       {"attempts", "0"},
                       {"error", ""},
                       {"created", now},
                       {"updated", now},
                       {"message", message}});
  auto reply = eval(
      *pool_.acquire(), scripts::enqueue,
      {keys::job(spec.id), kQueue, kExpiries, kTrash, keys::callbacks(spec.id), kOutbox}, args);
  EnqueueResult result{spec.id, reply.str == "created", reply.str};
  if (result.created) result.status = "queued";
  return result;
}

std::optional<Claim> JobQueue::claim(Redis& redis, const std::string& worker, double timeout_s) {
  auto reply = redis.command(
      {"BLMOVE", kQueue, keys::processing(worker), "RIGHT", "LEFT", std::to_string(timeout_s)});
  if (reply.is_nil()) return std::nullopt;
  Claim claim{reply.str, {}, 0};
  json message;
  try {
    message = json::parse(claim.message);
    claim.spec = job_from_json(message);
  } catch (const std::exception&) {
    // Not one of ours: park it on the deadletter list rather than crash on it forever.
    redis.command({"LREM", keys::processing(worker), "1", claim.message});
    redis.command({"LPUSH", kDeadletter, claim.message});
    return std::nullopt;
  }
  auto started =
      eval(redis, scripts::start,
           {keys::job(claim.spec.id), keys::processing(worker), keys::callbacks(claim.spec.id)},
           {claim.message, worker, std::to_string(now_seconds()), legacy_callback(message)});
  if (started.integer == 0) return std::nullopt;
  claim.run = started.integer;
  return claim;
}

void JobQueue::heartbeat(const std::string& worker) {
  pool_.command({"SET", keys::lease(worker), std::to_string(now_seconds()), "EX",
                 std::to_string(settings_.lease_s)});
}

void JobQueue::sign_off(const std::string& worker) {
  pool_.command({"DEL", keys::lease(worker)});
}

bool JobQueue::progress(const std::string& worker, const Claim& claim, int percent,
                        const std::string& stage) {
  auto reply = eval(*pool_.acquire(), scripts::progress, {keys::job(claim.spec.id)},
                    {worker, std::to_string(claim.run), std::to_string(percent), stage,
                     std::to_string(now_seconds())});
  return reply.integer == 1;
}

bool JobQueue::publish_live(const std::string& worker, const Claim& claim, const LiveStems& live) {
  auto reply =
      eval(*pool_.acquire(), scripts::publish_live, {keys::job(claim.spec.id)},
           {worker, std::to_string(claim.run), live_text(live), std::to_string(now_seconds())});
  return reply.integer == 1;
}

namespace {

// What callbacks report of a job's end: {"status","error","outputs"} (outputs as stored).
std::string ending_text(const json& fields) {
  std::string outputs = fields.value("outputs", "[]");
  return "{\"status\":" + json(fields.value("status", "")).dump() +
         ",\"error\":" + json(fields.value("error", "")).dump() +
         ",\"outputs\":" + (outputs.empty() ? "[]" : outputs) + "}";
}

bool finish(RedisPool& pool, const QueueSettings& settings, const std::string& worker,
            const Claim& claim, const std::string& counter, const json& fields,
            const std::vector<std::string>& files) {
  long long now = now_seconds();
  std::vector<std::string> args{claim.message,
                                claim.spec.id,
                                std::to_string(now + settings.retention_s),
                                counter,
                                worker,
                                std::to_string(claim.run),
                                std::to_string(now),
                                ending_text(fields),
                                std::to_string(files.size())};
  args.insert(args.end(), files.begin(), files.end());
  json all = fields;
  all["updated"] = now;
  all["finished"] = now;
  append_fields(args, all);
  std::vector<std::string> keys{keys::job(claim.spec.id),
                                keys::processing(worker),
                                kExpiries,
                                kStats,
                                kTrash,
                                keys::callbacks(claim.spec.id),
                                kOutbox};
  try {
    return eval(*pool.acquire(), scripts::finish, keys, args).integer == 1;
  } catch (const RedisError&) {
    // The script is not sent twice blindly (redis.cpp): whether it ran is read from the job's
    // own list, and it is run again only when it did not.
    auto redis = pool.acquire();
    bool still_ours = redis->command({"LPOS", keys[1], claim.message}).type == Reply::Type::integer;
    if (still_ours) return eval(*redis, scripts::finish, keys, args).integer == 1;
    auto ended = redis->command({"HGET", keys[0], "ended_run"});
    return ended.str == std::to_string(claim.run);
  }
}

}  // namespace

bool JobQueue::complete(const std::string& worker, const Claim& claim, const json& fields,
                        const std::vector<std::string>& files) {
  json all = fields;
  all["status"] = "done";
  all["stage"] = "done";
  all["progress"] = 100;
  all["error"] = "";
  return finish(pool_, settings_, worker, claim, "done", all, files);
}

bool JobQueue::fail(const std::string& worker, const Claim& claim, const std::string& error) {
  return finish(pool_, settings_, worker, claim, "failed",
                {{"status", "failed"}, {"stage", "failed"}, {"error", error}}, {});
}

namespace {

int retry_message(Redis& redis, const QueueSettings& settings, const std::string& worker,
                  const std::string& message, const std::string& error, long long delay_s) {
  long long now = now_seconds();
  auto reply =
      eval(redis, scripts::retry,
           {keys::processing(worker), kQueue, kDeadletter, kExpiries, kStats, kDelayed, kOutbox},
           {message, error, std::to_string(settings.max_attempts), std::to_string(now),
            std::to_string(now + settings.retention_s), std::to_string(delay_s)});
  return static_cast<int>(reply.integer);
}

// Retries wait longer each time: backoff, 2 x backoff, 4 x backoff ... at most 10 minutes.
long long backoff_for(const QueueSettings& settings, int attempts) {
  long long delay = settings.retry_backoff_s;
  for (int i = 0; i < attempts && delay < 600; ++i) delay *= 2;
  return std::min<long long>(delay, 600);
}

}  // namespace

void JobQueue::retry(const std::string& worker, const Claim& claim, const std::string& error) {
  retry_message(*pool_.acquire(), settings_, worker, claim.message, error,
                backoff_for(settings_, claim.spec.attempts));
}

namespace {

// `free_handbacks`: a number, or "uncounted" (scripts.h).
int hand_back_message(Redis& redis, const std::string& worker, const Claim& claim,
                      const std::string& free_handbacks) {
  auto reply =
      eval(redis, scripts::hand_back, {keys::processing(worker), kQueue, keys::job(claim.spec.id)},
           {claim.message, std::to_string(now_seconds()), free_handbacks});
  return static_cast<int>(reply.integer);
}

// Sightings older than two leases mean nothing any more (scripts.h, lease_lost); those of
// workers whose lists are gone would otherwise stay for ever.
void prune_suspects(Redis& redis, int lease_s) {
  long long now = std::stoll(redis.command({"TIME"}).elements.at(0).str);
  auto suspects = redis.command({"HGETALL", kSuspects});
  for (size_t i = 0; i + 1 < suspects.elements.size(); i += 2)
    if (now - std::stoll(suspects.elements[i + 1].str) > 2LL * lease_s)
      redis.command({"HDEL", kSuspects, suspects.elements[i].str});
}

}  // namespace

HandBack JobQueue::hand_back(const std::string& worker, const Claim& claim,
                             const std::string& why) {
  auto redis = pool_.acquire();
  int outcome = hand_back_message(*redis, worker, claim, std::to_string(settings_.free_handbacks));
  if (outcome == 1) return HandBack::queued;
  if (outcome == 0) return HandBack::not_ours;
  retry_message(*redis, settings_, worker, claim.message, why, 0);
  return HandBack::counted_as_attempt;
}

int JobQueue::reap() {
  auto redis = pool_.acquire();
  // One reaper at a time across all workers; the lock expires on its own.
  auto locked = redis->command(
      {"SET", kReaperLock, "1", "NX", "PX", std::to_string(std::max(1, settings_.lease_s) * 500)});
  if (locked.is_nil()) return 0;
  int moved = 0;
  std::string cursor = "0";
  do {
    auto page = redis->command({"SCAN", cursor, "MATCH", keys::processing("*"), "COUNT", "100"});
    cursor = page.elements[0].str;
    for (const auto& list : page.elements[1].elements) {
      std::string worker = list.str.substr(kProcessingPrefix.size());
      auto lost = eval(*redis, scripts::lease_lost, {keys::lease(worker), kSuspects},
                       {worker, std::to_string(settings_.lease_s)});
      if (lost.integer == 0) continue;
      auto messages = redis->command({"LRANGE", list.str, "0", "-1"});
      for (const auto& m : messages.elements)
        moved +=
            retry_message(*redis, settings_, worker, m.str,
                          "worker " + worker + " stopped while separating (lease expired)", 0) > 0;
    }
  } while (cursor != "0");
  prune_suspects(*redis, settings_.lease_s);
  return moved;
}

int JobQueue::promote_due(long long now_s) {
  return static_cast<int>(
      eval(*pool_.acquire(), scripts::promote, {kDelayed, kQueue}, {std::to_string(now_s)})
          .integer);
}

int JobQueue::recover(const std::string& worker) {
  auto messages = pool_.command({"LRANGE", keys::processing(worker), "0", "-1"});
  for (const auto& m : messages.elements) {
    auto spec = json::parse(m.str, nullptr, false);
    Claim lost{m.str, {}, 0};
    lost.spec.id = spec.is_object() ? spec.value("id", "") : "";
    give_back(worker, lost);  // not counted: it may never have started (a lost reply)
  }
  return static_cast<int>(messages.elements.size());
}

int JobQueue::take_expired(long long now_s) {
  auto ids = pool_.command(
      {"ZRANGEBYSCORE", kExpiries, "-inf", std::to_string(now_s), "LIMIT", "0", "100"});
  int removed = 0;
  for (const auto& id : ids.elements) removed += expire(id.str, now_s).has_value();
  return removed;
}

namespace {

// The live parts a removed job's record names (queue/job_record.h) go with it: already trash
// (held until later), they are made due now and returned with its files.
void add_live_parts(RedisPool& pool, const std::string& id, RemovedJob& removed, long long now_s) {
  const auto& live = removed.record.live;
  if (!live) return;
  std::vector<std::string> command{"ZADD", kTrash, "XX"};
  for (const auto& stem : live->stems)
    for (int n = 0; n < live->parts; ++n) {
      auto item = trash_item(FileKind::output, live->part_key(id, stem, n));
      command.push_back(std::to_string(now_s));
      command.push_back(item.member);
      removed.files.push_back(item);
    }
  if (command.size() > 3) pool.command(command);
}

std::optional<RemovedJob> remove_job(RedisPool& pool, const std::string& id,
                                     const std::string& mode, long long now_s) {
  auto reply = eval(*pool.acquire(), scripts::remove,
                    {keys::job(id), kQueue, kExpiries, kTrash, keys::callbacks(id), kDelayed},
                    {id, mode, std::to_string(now_s)});
  if (reply.elements.size() != 2) return std::nullopt;
  RemovedJob removed{record_from_flat(reply.elements[0]), {}};
  for (const auto& member : reply.elements[1].elements)
    if (auto item = parse_trash_member(member.str)) removed.files.push_back(*item);
  add_live_parts(pool, id, removed, now_s);
  return removed;
}

}  // namespace

std::optional<RemovedJob> JobQueue::expire(const std::string& id, long long now_s) {
  return remove_job(pool_, id, "if-due", now_s);
}

void JobQueue::give_back(const std::string& worker, const Claim& claim) {
  hand_back_message(*pool_.acquire(), worker, claim, "uncounted");
}

std::optional<JobRecord> JobQueue::get(const std::string& id) {
  auto flat = pool_.command({"HGETALL", keys::job(id)});
  if (flat.elements.empty()) return std::nullopt;
  return record_from_flat(flat);
}

bool JobQueue::exists(const std::string& id) {
  return pool_.command({"EXISTS", keys::job(id)}).integer == 1;
}

std::optional<RemovedJob> JobQueue::remove(const std::string& id) {
  return remove_job(pool_, id, "always", now_seconds());
}

bool JobQueue::drop_output(const std::string& id, const std::string& key) {
  return eval(*pool_.acquire(), scripts::drop_output, {keys::job(id), kTrash},
              {key, std::to_string(now_seconds())})
             .integer == 1;
}

std::vector<JobSpec> JobQueue::waiting() {
  auto messages = pool_.command({"LRANGE", kQueue, "0", "-1"});
  std::vector<JobSpec> jobs;
  // LPUSH adds on the left and workers take from the right: the oldest is last.
  for (auto it = messages.elements.rbegin(); it != messages.elements.rend(); ++it) {
    auto j = json::parse(it->str, nullptr, false);
    if (j.is_object() && j.contains("id")) jobs.push_back(job_from_json(j));
  }
  return jobs;
}

long long JobQueue::waiting_count() {
  return pool_.command({"LLEN", kQueue}).integer;
}

long long JobQueue::housekeeping_due(long long now_s) {
  std::string now = std::to_string(now_s);
  long long due = 0;
  // Not the trash: a file whose deletion keeps failing would keep a worker up for ever; it is
  // swept whenever a worker runs for anything else (expiries bring one).
  for (const auto& set : {kOutbox, kExpiries})
    due += pool_.command({"ZCOUNT", set, "-inf", now}).integer;
  return due;
}

long long JobQueue::delayed_count() {
  return pool_.command({"ZCARD", kDelayed}).integer;
}

long long JobQueue::running_count() {
  auto redis = pool_.acquire();
  long long total = 0;
  std::string cursor = "0";
  do {
    auto page = redis->command({"SCAN", cursor, "MATCH", keys::processing("*"), "COUNT", "100"});
    cursor = page.elements[0].str;
    for (const auto& list : page.elements[1].elements)
      total += redis->command({"LLEN", list.str}).integer;
  } while (cursor != "0");
  return total;
}

}  // namespace msaas::queue

// queue/scripts.h: the Lua scripts that make each queue step atomic in Redis. Kept apart from
// jobs.cpp so the queue's logic reads as plain C++ and the scripts can be read side by side.
#pragma once

namespace msaas::queue::scripts {

// KEYS: job:<id>, toWorker, expiries. ARGV: message, then field/value pairs of the record.
// A job that exists and has not failed is left alone (the same upload and settings). A failed
// one starts over, and the deletion its failure scheduled is called off: it would otherwise
// remove the new record and its upload at the old time.
inline constexpr const char* enqueue = R"lua(
local status = redis.call('HGET', KEYS[1], 'status')
if status and status ~= 'failed' then return status end
redis.call('ZREM', KEYS[3], string.sub(KEYS[1], 5))
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('LPUSH', KEYS[2], ARGV[1])
return 'created'
)lua";

// KEYS: job:<id>, processing:<worker>. ARGV: message, worker, now.
// Marks a claimed job running; a job deleted while it waited is dropped (returns 0).
inline constexpr const char* start = R"lua(
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('LREM', KEYS[2], 1, ARGV[1])
  return 0
end
redis.call('HSET', KEYS[1], 'status', 'running', 'worker', ARGV[2], 'stage', 'starting',
           'progress', 0, 'updated', ARGV[3])
return 1
)lua";

// KEYS: job:<id>. ARGV: progress, stage, now. Returns 0 when the job no longer exists.
inline constexpr const char* progress = R"lua(
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'progress', ARGV[1], 'stage', ARGV[2], 'updated', ARGV[3])
return 1
)lua";

// KEYS: job:<id>, processing:<worker>, expiries, stats. ARGV: message, id, expire_at,
// stats counter, then field/value pairs. Ends a job (done or failed) and schedules its expiry.
inline constexpr const char* finish = R"lua(
redis.call('LREM', KEYS[2], 1, ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 5))
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[2])
redis.call('HINCRBY', KEYS[4], ARGV[4], 1)
return 1
)lua";

// KEYS: processing:<worker>, toWorker, deadletter, expiries, stats, delayed.
// ARGV: message, error, max_attempts, now, expire_at, delay_s.
// Takes a job off a worker's list with attempts + 1: back first in line on the queue (after
// delay_s in the sorted set `delayed` when that is above 0), or past the limit onto
// `deadletter` (with its last error) and failed.
inline constexpr const char* retry = R"lua(
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end
local job = cjson.decode(ARGV[1])
job.attempts = (tonumber(job.attempts) or 0) + 1
local key = 'job:' .. job.id
if redis.call('EXISTS', key) == 0 then return 0 end
if job.attempts >= tonumber(ARGV[3]) then
  redis.call('LPUSH', KEYS[3], cjson.encode({job = job, error = ARGV[2], at = tonumber(ARGV[4])}))
  redis.call('HSET', key, 'status', 'failed', 'stage', 'deadletter', 'error', ARGV[2],
             'attempts', job.attempts, 'updated', ARGV[4])
  redis.call('ZADD', KEYS[4], ARGV[5], job.id)
  redis.call('HINCRBY', KEYS[5], 'failed', 1)
  return 2
end
local message = cjson.encode(job)
local delay = tonumber(ARGV[6])
if delay > 0 then
  redis.call('ZADD', KEYS[6], tonumber(ARGV[4]) + delay, message)
else
  redis.call('RPUSH', KEYS[2], message)
end
redis.call('HSET', key, 'status', 'queued', 'stage', delay > 0 and 'retrying' or 'queued',
           'progress', 0, 'error', ARGV[2], 'attempts', job.attempts, 'message', message,
           'updated', ARGV[4])
return 1
)lua";

// KEYS: delayed, toWorker. ARGV: now. Moves retries whose wait is over to the front of the
// queue; returns how many.
inline constexpr const char* promote = R"lua(
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 100)
for _, message in ipairs(due) do
  redis.call('ZREM', KEYS[1], message)
  redis.call('RPUSH', KEYS[2], message)
end
return #due
)lua";

// KEYS: processing:<worker>, toWorker, job:<id>. ARGV: message, now.
// Gives a job back unchanged, first in line (a worker shutting down).
inline constexpr const char* hand_back = R"lua(
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end
if redis.call('EXISTS', KEYS[3]) == 0 then return 0 end
redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[3], 'status', 'queued', 'stage', 'queued', 'progress', 0,
           'updated', ARGV[2])
return 1
)lua";

// KEYS: job:<id>, toWorker, expiries. ARGV: id, mode. Removes a job and its place in the queue;
// returns the record as a flat field/value array (empty when nothing was removed). Mode
// "if-due" (expiry) removes it only while it is still due for deletion: a job submitted again
// since its due time was read has left `expiries` (enqueue) and is kept.
inline constexpr const char* remove = R"lua(
local was_due = redis.call('ZREM', KEYS[3], ARGV[1])
if ARGV[2] == 'if-due' and was_due == 0 then return {} end
local record = redis.call('HGETALL', KEYS[1])
local message = redis.call('HGET', KEYS[1], 'message')
if message then
  redis.call('LREM', KEYS[2], 0, message)
  redis.call('ZREM', 'delayed', message)
end
redis.call('DEL', KEYS[1])
return record
)lua";

}  // namespace msaas::queue::scripts

// queue/scripts.h: the Lua scripts that make each queue step atomic in Redis. Kept apart from
// jobs.cpp so the queue's logic reads as plain C++ and the scripts can be read side by side.
//
// Ownership: `start` gives each run of a job a number (the record's `run`, a fencing token);
// progress and finish are accepted only from the worker and run the record names while it is
// running, so a worker that lost its job (lease expired, job handed to another) changes nothing.
// Files: a file no job owns is a member "<kind>:<key>" of the sorted set `trash`, scored by when
// it may be deleted. Callbacks: raw JSON texts from C++, never decoded here (Lua's cjson rewrites
// numbers and empty arrays); `callbacks:<id>` holds each submission's, moved to `outbox` when the
// job ends.
#pragma once

#include <string>

namespace msaas::queue::scripts {

// Functions shared by the scripts that end a job: send_callbacks moves its callbacks to the outbox,
// one entry each with the job's end as it is now (`ending`: {"status","error","outputs"} as JSON
// text), wrapped by concatenation so the caller's JSON stays byte for byte. own_upload: uploads
// named the old way (one object per song, shared by its jobs) are never trash, since deleting
// one could take another job's input.
inline constexpr const char* common = R"lua(
local function send_callbacks(list, outbox, id, run, now, ending)
  local generation = redis.call('HGET', 'job:' .. id, 'generation') or 0
  for i, raw in ipairs(redis.call('LRANGE', list, 0, -1)) do
    redis.call('ZADD', outbox, now, '{"id":"' .. id .. '","generation":' .. generation ..
               ',"run":' .. run .. ',"n":' .. i .. ',"end":' .. ending .. ',"callback":' ..
               raw .. '}')
  end
  redis.call('DEL', list)
end
local function own_upload(name)
  return name and string.find(name, '%-%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%.') ~= nil
end
)lua";

// KEYS: job:<id>, toWorker, expiries, trash, callbacks:<id>, outbox.
// ARGV: message ("" when the caller has not stored an upload), upload trash member, now, callback
// ("" for none), expire_at, then field/value pairs of the record.
// A job that exists and has not failed is left alone (the same upload and settings): the upload
// the caller stored for it is not needed, and the caller's callback joins the job's (sent at
// once when it is done; a done job is then kept a whole retention period from now, so what the
// caller was just told stays true). A failed one starts over with the new upload; its old one
// goes, and the deletion its failure scheduled is called off. Returns the status found,
// "created", or "needs-upload" when a job must be created and no upload came with the call.
inline const std::string enqueue = std::string(common) + R"lua(
local now = tonumber(ARGV[3])
local status = redis.call('HGET', KEYS[1], 'status')
if status and status ~= 'failed' then
  if ARGV[2] ~= '' then redis.call('ZADD', KEYS[4], now, ARGV[2]) end
  if status == 'done' then redis.call('ZADD', KEYS[3], 'GT', ARGV[5], string.sub(KEYS[1], 5)) end
  if ARGV[4] ~= '' then
    redis.call('RPUSH', KEYS[5], ARGV[4])
    if status == 'done' then
      local ending = '{"status":"done","error":"","outputs":' ..
                     (redis.call('HGET', KEYS[1], 'outputs') or '[]') .. '}'
      send_callbacks(KEYS[5], KEYS[6], redis.call('HGET', KEYS[1], 'id'),
                     redis.call('HGET', KEYS[1], 'run') or 0, now, ending)
    end
  end
  return status
end
if ARGV[1] == '' then return 'needs-upload' end
local old_upload = redis.call('HGET', KEYS[1], 'upload')
if own_upload(old_upload) then redis.call('ZADD', KEYS[4], now, 'upload:' .. old_upload) end
-- A failed job starting over keeps its generation (the callbacks of its failure still count);
-- a job removed and submitted again gets a new one (the old one's pending callbacks do not).
local generation = redis.call('HGET', KEYS[1], 'generation') or redis.call('INCR', 'generations')
redis.call('ZREM', KEYS[3], string.sub(KEYS[1], 5))
redis.call('ZREM', KEYS[4], ARGV[2])
redis.call('DEL', KEYS[1], KEYS[5])
redis.call('HSET', KEYS[1], unpack(ARGV, 6))
redis.call('HSET', KEYS[1], 'generation', generation)
redis.call('LPUSH', KEYS[2], ARGV[1])
if ARGV[4] ~= '' then redis.call('RPUSH', KEYS[5], ARGV[4]) end
return 'created'
)lua";

// KEYS: job:<id>, processing:<worker>, callbacks:<id>. ARGV: message, worker, now, the callback
// a message from before callbacks were kept apart carried ("" for none).
// Starts a claimed message only if it is the job's current one and the job is queued: a job
// deleted, finished or already started meanwhile drops the message (returns 0). Otherwise the
// run's number, unique across all jobs and their lifetimes (a job deleted and submitted again
// never reuses one, so two runs never share a stems folder); `starts` counts the job's runs.
inline constexpr const char* start = R"lua(
local current = redis.call('HGET', KEYS[1], 'message')
if current ~= ARGV[1] or redis.call('HGET', KEYS[1], 'status') ~= 'queued' then
  redis.call('LREM', KEYS[2], 1, ARGV[1])
  return 0
end
if ARGV[4] ~= '' and redis.call('HSETNX', KEYS[1], 'legacy_callback_moved', 1) == 1 then
  redis.call('RPUSH', KEYS[3], ARGV[4])
end
local run = redis.call('INCR', 'runs')
redis.call('HSET', KEYS[1], 'run', run)
redis.call('HINCRBY', KEYS[1], 'starts', 1)
redis.call('HSET', KEYS[1], 'status', 'running', 'worker', ARGV[2], 'stage', 'starting',
           'progress', 0, 'updated', ARGV[3])
return run
)lua";

// KEYS: job:<id>. ARGV: worker, run, progress, stage, now. Returns 0 when this run no longer owns
// the job (deleted, handed to another worker): the worker then stops.
inline constexpr const char* progress = R"lua(
local owner = redis.call('HMGET', KEYS[1], 'status', 'worker', 'run')
if owner[1] ~= 'running' or owner[2] ~= ARGV[1] or owner[3] ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'progress', ARGV[3], 'stage', ARGV[4], 'updated', ARGV[5])
return 1
)lua";

// KEYS: job:<id>. ARGV: worker, run, live (JSON text: what of the stems is published so far,
// queue/job_record.h), now. Like progress: 0 when this run no longer owns the job.
inline constexpr const char* publish_live = R"lua(
local owner = redis.call('HMGET', KEYS[1], 'status', 'worker', 'run')
if owner[1] ~= 'running' or owner[2] ~= ARGV[1] or owner[3] ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'live', ARGV[3], 'updated', ARGV[4])
return 1
)lua";

// KEYS: job:<id>, processing:<worker>, expiries, stats, trash, callbacks:<id>, outbox.
// ARGV: message, id, expire_at, stats counter, worker, run, now, the end for callbacks (JSON),
// count n of this run's files, n trash members, then field/value pairs. Ends a job (done or
// failed) if this run still owns it: its files stop being trash, its expiry is scheduled, its
// callbacks go to the outbox, and `ended_run` says which run ended it. Returns 0 (and changes
// nothing but the worker's own list) when it does not.
inline const std::string finish = std::string(common) + R"lua(
if redis.call('HGET', KEYS[1], 'ended_run') == ARGV[6] then  -- ran already (a lost reply)
  redis.call('LREM', KEYS[2], 1, ARGV[1])
  return 1
end
if redis.call('LREM', KEYS[2], 1, ARGV[1]) == 0 then return 0 end
local owner = redis.call('HMGET', KEYS[1], 'status', 'worker', 'run')
if owner[1] ~= 'running' or owner[2] ~= ARGV[5] or owner[3] ~= ARGV[6] then return 0 end
local files = tonumber(ARGV[9])
for i = 10, 9 + files do redis.call('ZREM', KEYS[5], ARGV[i]) end
redis.call('HSET', KEYS[1], unpack(ARGV, 10 + files))
redis.call('HSET', KEYS[1], 'ended_run', ARGV[6])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[2])
redis.call('HINCRBY', KEYS[4], ARGV[4], 1)
send_callbacks(KEYS[6], KEYS[7], ARGV[2], ARGV[6], tonumber(ARGV[7]), ARGV[8])
return 1
)lua";

// KEYS: processing:<worker>, toWorker, deadletter, expiries, stats, delayed, outbox.
// ARGV: message, error, max_attempts, now, expire_at, delay_s.
// Takes a job off a worker's list with attempts + 1: back first in line on the queue (after
// delay_s in the sorted set `delayed` when that is above 0), or past the limit onto
// `deadletter` (with its last error) and failed, its callbacks sent.
inline const std::string retry = std::string(common) + R"lua(
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end
local job = cjson.decode(ARGV[1])
job.attempts = (tonumber(job.attempts) or 0) + 1
local key = 'job:' .. job.id
if redis.call('HGET', key, 'message') ~= ARGV[1] then return 0 end
if job.attempts >= tonumber(ARGV[3]) then
  redis.call('LPUSH', KEYS[3], cjson.encode({job = job, error = ARGV[2], at = tonumber(ARGV[4])}))
  redis.call('HSET', key, 'status', 'failed', 'stage', 'deadletter', 'error', ARGV[2],
             'attempts', job.attempts, 'updated', ARGV[4])
  redis.call('ZADD', KEYS[4], ARGV[5], job.id)
  redis.call('HINCRBY', KEYS[5], 'failed', 1)
  send_callbacks('callbacks:' .. job.id, KEYS[7], job.id, redis.call('HGET', key, 'run') or 0,
                 tonumber(ARGV[4]), '{"status":"failed","error":' .. cjson.encode(ARGV[2]) ..
                 ',"outputs":[]}')
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

// KEYS: processing:<worker>, toWorker, job:<id>. ARGV: message, now, free hand-backs ("uncounted"
// for a job given back that was never worked on: a lost reply, a stop just after claiming).
// Gives a job back, first in line (a worker shutting down), counting the hand-back. Returns 1;
// 0 when the job is not this worker's any more; -1 when it has used its free hand-backs (the
// caller then retries it as a failed attempt, so a job that can never finish in time ends).
// The message always changes (it is what fences stale steps), by `returns` when uncounted.
inline constexpr const char* hand_back = R"lua(
if redis.call('LPOS', KEYS[1], ARGV[1]) == false then return 0 end
if redis.call('HGET', KEYS[3], 'message') ~= ARGV[1] then
  redis.call('LREM', KEYS[1], 1, ARGV[1])
  return 0
end
local job = cjson.decode(ARGV[1])
if ARGV[3] == 'uncounted' then
  job.returns = (tonumber(job.returns) or 0) + 1
else
  job.handbacks = (tonumber(job.handbacks) or 0) + 1
  if job.handbacks > tonumber(ARGV[3]) then return -1 end
end
local message = cjson.encode(job)
redis.call('LREM', KEYS[1], 1, ARGV[1])
redis.call('RPUSH', KEYS[2], message)
redis.call('HSET', KEYS[3], 'status', 'queued', 'stage', 'queued', 'progress', 0,
           'message', message, 'updated', ARGV[2])
return 1
)lua";

// KEYS: job:<id>, toWorker, expiries, trash, callbacks:<id>, delayed. ARGV: id, mode, now.
// Removes a job, its place in the queue and its pending callbacks; its files become trash
// (deleted by whoever sweeps it, at once or after a storage error). Returns {the record as a
// flat field/value array, the trash members it listed} (empty when nothing was removed). Mode
// "if-due" (expiry) removes it only while it is still due now: a job submitted again since its due
// time was read has left `expiries` (a failed one starting over) or is due later (a done one
// joined), and is kept.
inline const std::string remove = std::string(common) + R"lua(
if ARGV[2] == 'if-due' then
  local due = redis.call('ZSCORE', KEYS[3], ARGV[1])
  if not due or tonumber(due) > tonumber(ARGV[3]) then return {} end
end
redis.call('ZREM', KEYS[3], ARGV[1])
local record = redis.call('HGETALL', KEYS[1])
if #record == 0 then return {} end
local fields = {}
for i = 1, #record, 2 do fields[record[i]] = record[i + 1] end
if fields.message then
  redis.call('LREM', KEYS[2], 0, fields.message)
  redis.call('ZREM', KEYS[6], fields.message)
end
local now = tonumber(ARGV[3])
local files = {}
local function discard(member)
  redis.call('ZADD', KEYS[4], now, member)
  files[#files + 1] = member
end
if own_upload(fields.upload) then discard('upload:' .. fields.upload) end
if fields.zip and fields.zip ~= '' then discard('output:' .. fields.zip) end
if fields.outputs then
  local ok, outputs = pcall(cjson.decode, fields.outputs)
  if ok and type(outputs) == 'table' then
    for _, o in ipairs(outputs) do
      if type(o) == 'table' and o.key then discard('output:' .. o.key) end
    end
  end
end
redis.call('DEL', KEYS[1], KEYS[5])
return {record, files}
)lua";

// KEYS: job:<id>, trash. ARGV: output key, now. Drops one output of a done job (the original
// API's track removal): out of the record, into the trash. Returns 1 when it was there.
inline constexpr const char* drop_output = R"lua(
local text = redis.call('HGET', KEYS[1], 'outputs')
if not text then return 0 end
local outputs = cjson.decode(text)
local kept, found = {}, 0
for _, o in ipairs(outputs) do
  if o.key == ARGV[1] then found = 1 else kept[#kept + 1] = o end
end
if found == 0 then return 0 end
redis.call('HSET', KEYS[1], 'outputs', #kept > 0 and cjson.encode(kept) or '[]')
redis.call('ZADD', KEYS[2], tonumber(ARGV[2]), 'output:' .. ARGV[1])
return 1
)lua";

// KEYS: a sorted set of due work (trash, outbox). ARGV: now, limit, seconds.
// Takes up to `limit` members due by `now` and pushes each one's time `seconds` on, so two
// sweepers do not take the same one and a sweeper that dies leaves it to be taken again.
inline constexpr const char* take_due = R"lua(
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, member in ipairs(due) do
  redis.call('ZADD', KEYS[1], 'XX', tonumber(ARGV[1]) + tonumber(ARGV[3]), member)
end
return due
)lua";

// KEYS: outbox, outbox:tries. ARGV: member, now. A callback's try failed: counts it and makes
// it due again as many seconds later as tries have failed; a member no longer listed (sent or
// given up by another sender) is left alone. Returns the count (0 when not listed).
inline constexpr const char* failed_try = R"lua(
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
local tries = redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
redis.call('ZADD', KEYS[1], 'XX', tonumber(ARGV[2]) + tries, ARGV[1])
return tries
)lua";

// KEYS: lease:<worker>, reaper:suspects. ARGV: worker, lease_s.
// Whether a worker's jobs may be taken from it: only when its lease has been missing for a
// whole lease period as seen by reapers, on Redis's clock (workers' clocks may disagree). After
// a Redis outage every lease is gone at once; the live workers renew theirs within a third of a
// lease and keep their jobs. A sighting older than two leases is stale (the worker came back
// in between) and counts as a first one.
inline constexpr const char* lease_lost = R"lua(
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HDEL', KEYS[2], ARGV[1])
  return 0
end
local now = tonumber(redis.call('TIME')[1])
local lease = tonumber(ARGV[2])
local since = tonumber(redis.call('HGET', KEYS[2], ARGV[1]))
if not since or now - since > 2 * lease then
  redis.call('HSET', KEYS[2], ARGV[1], now)
  return 0
end
if now - since < lease then return 0 end
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
)lua";

}  // namespace msaas::queue::scripts

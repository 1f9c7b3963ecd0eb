// Lua sources of the queue scripts. Keys are always passed in KEYS (all of one queue share the
// hash tag {<queue>}, so a script touches one Cluster slot). The consumer group is "workers".
#include "scripts.hpp"

namespace wharf::queue::scripts {

// KEYS: stream, delayed, stats   ARGV: entry_id, due_ms, member
const redis::script& retry_later() {
    static const redis::script s{R"lua(
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
redis.call('XACK', KEYS[1], 'workers', ARGV[1])
redis.call('XDEL', KEYS[1], ARGV[1])
redis.call('HINCRBY', KEYS[3], 'retried', 1)
return 1
)lua"};
    return s;
}

// KEYS: stream, dead, stats, cancel [, id_key]
// ARGV: entry_id, job_text, job_id, reason, attempts, failed_at, id_ttl_s
// Idempotent per entry: the dead letter is added only by the call that removes the entry from the
// stream, so two workers settling the same entry (a take-over racing the first run's last step)
// leave one dead letter. A cancel asked for the job is done with. Returns 1 when it added the dead
// letter, 0 when the entry was gone.
const redis::script& dead_letter() {
    static const redis::script s{R"lua(
local removed = redis.call('XDEL', KEYS[1], ARGV[1])
redis.call('XACK', KEYS[1], 'workers', ARGV[1])
if KEYS[5] then
  redis.call('HSET', KEYS[5], 'state', 'dead')
  redis.call('EXPIRE', KEYS[5], ARGV[7])
end
redis.call('HDEL', KEYS[4], ARGV[3])
if removed == 0 then return 0 end
redis.call('XADD', KEYS[2], '*', 'job', ARGV[2], 'id', ARGV[3], 'reason', ARGV[4],
           'attempts', ARGV[5], 'failed_at', ARGV[6])
redis.call('HINCRBY', KEYS[3], 'dead', 1)
return 1
)lua"};
    return s;
}

// KEYS: stream, stats, cancel, id_key...   ARGV: id_ttl_s, n, then n quadruples (entry_id,
// id_key_index into KEYS or 0, outcome counter, job id). A cancel asked for a job that finished
// anyway is done with too (HDEL), so it cannot cancel a later run of the same id.
const redis::script& ack() {
    static const redis::script s{R"lua(
local n = tonumber(ARGV[2])
local ids = {}
local jobs = {}
local counts = {}
for i = 0, n - 1 do
  local entry = ARGV[3 + i * 4]
  local key_index = tonumber(ARGV[4 + i * 4])
  local outcome = ARGV[5 + i * 4]
  ids[#ids + 1] = entry
  jobs[#jobs + 1] = ARGV[6 + i * 4]
  if key_index > 0 then
    redis.call('HSET', KEYS[key_index], 'state', 'done')
    redis.call('EXPIRE', KEYS[key_index], ARGV[1])
  end
  if outcome ~= '' then counts[outcome] = (counts[outcome] or 0) + 1 end
end
local acked = 0
if #ids > 0 then
  acked = redis.call('XACK', KEYS[1], 'workers', unpack(ids))
  redis.call('XDEL', KEYS[1], unpack(ids))
  if redis.call('EXISTS', KEYS[3]) == 1 then redis.call('HDEL', KEYS[3], unpack(jobs)) end
end
for outcome, c in pairs(counts) do redis.call('HINCRBY', KEYS[2], outcome, c) end
return acked
)lua"};
    return s;
}

// KEYS: delayed, stream   ARGV: now_ms, limit.  Returns how many were moved.
const redis::script& promote_due() {
    static const redis::script s{R"lua(
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, member in ipairs(due) do
  redis.call('XADD', KEYS[2], '*', 'job', member)
  redis.call('ZREM', KEYS[1], member)
end
return #due
)lua"};
    return s;
}

// KEYS: stream   ARGV: consumer, min_idle_ms, count
// XAUTOCLAIM from the start of the PEL, continuing (a bounded number of rounds) past entries that
// are not idle yet, e.g. long jobs whose leases are renewed. Entries deleted from the stream are
// dropped from the PEL by XAUTOCLAIM itself (Redis 7). Returns {id, deliveries, job|false}...
const redis::script& reclaim() {
    static const redis::script s{R"lua(
local want = tonumber(ARGV[3])
local cursor = '0-0'
local out = {}
local got = 0
for round = 1, 10 do
  local r = redis.call('XAUTOCLAIM', KEYS[1], 'workers', ARGV[1], ARGV[2], cursor, 'COUNT', want - got)
  cursor = r[1]
  for _, entry in ipairs(r[2]) do
    local id = entry[1]
    local fields = entry[2]
    local job = false
    if type(fields) == 'table' then
      for i = 1, #fields, 2 do
        if fields[i] == 'job' then job = fields[i + 1] end
      end
    end
    local p = redis.call('XPENDING', KEYS[1], 'workers', id, id, 1)
    local deliveries = 1
    if p[1] then deliveries = p[1][4] end
    out[#out + 1] = id
    out[#out + 1] = deliveries
    out[#out + 1] = job
    got = got + 1
  end
  if got >= want or cursor == '0-0' then break end
end
return out
)lua"};
    return s;
}

// KEYS: stream   ARGV: consumer, count. The entries `consumer` holds (its pending list), with
// their delivery counts and bodies, in the shape of reclaim(): {id, deliveries, job|false}...
// An entry deleted from the stream but still pending has no body (false).
const redis::script& own_pending() {
    static const redis::script s{R"lua(
local p = redis.call('XPENDING', KEYS[1], 'workers', '-', '+', tonumber(ARGV[2]), ARGV[1])
local out = {}
for _, e in ipairs(p) do
  local id = e[1]
  local job = false
  local r = redis.call('XRANGE', KEYS[1], id, id)
  if r[1] and type(r[1][2]) == 'table' then
    local fields = r[1][2]
    for i = 1, #fields, 2 do
      if fields[i] == 'job' then job = fields[i + 1] end
    end
  end
  out[#out + 1] = id
  out[#out + 1] = e[4]
  out[#out + 1] = job
end
return out
)lua"};
    return s;
}

// KEYS: stream   ARGV: consumer, entry ids...   Returns the ids the consumer no longer owns.
// XCLAIM with min-idle 0 and JUSTID resets the idle time without bumping the delivery count.
// A stream or group that is gone (Redis lost its data: FLUSHALL, a restart from an older file)
// holds no lease: every entry is lost, and its job is stopped (reconciliation runs it again).
const redis::script& renew() {
    static const redis::script s{R"lua(
local lost = {}
local owned = {}
for i = 2, #ARGV do
  local id = ARGV[i]
  local p = redis.pcall('XPENDING', KEYS[1], 'workers', id, id, 1)
  if type(p) == 'table' and not p.err and p[1] and p[1][2] == ARGV[1] then
    owned[#owned + 1] = id
  else
    lost[#lost + 1] = id
  end
end
if #owned > 0 then
  -- unpack() must be the last argument to expand fully, so JUSTID goes in the table.
  owned[#owned + 1] = 'JUSTID'
  redis.call('XCLAIM', KEYS[1], 'workers', ARGV[1], 0, unpack(owned))
end
return lost
)lua"};
    return s;
}

// KEYS: stream, delayed, stats, id_key, cancel
// ARGV: entry_id, token, now_ms, wait_delay_ms, id_ttl_s, job_text, job_id
// The id key is a HASH {token, state}. Returns 'cancelled' (a cancel was asked for the job: the
// caller records that and acknowledges the entry), 'run', 'run_new' (no key: the id is new to
// Redis, or finished longer ago than the finished-id TTL: the caller asks PostgreSQL which),
// 'duplicate_done' or 'wait'.
const redis::script& claim_id() {
    static const redis::script s{R"lua(
if redis.call('HEXISTS', KEYS[5], ARGV[7]) == 1 then return 'cancelled' end
local token = ARGV[2]
if token == '' then token = ARGV[1] end
local cur = redis.call('HMGET', KEYS[4], 'token', 'state')
if not cur[1] then
  redis.call('HSET', KEYS[4], 'token', token, 'state', 'active')
  redis.call('EXPIRE', KEYS[4], ARGV[5])
  return 'run_new'
end
if cur[2] == 'done' or cur[2] == 'dead' then
  redis.call('XACK', KEYS[1], 'workers', ARGV[1])
  redis.call('XDEL', KEYS[1], ARGV[1])
  redis.call('HINCRBY', KEYS[3], 'duplicates', 1)
  return 'duplicate_done'
end
if cur[1] == token then
  redis.call('EXPIRE', KEYS[4], ARGV[5])
  return 'run'
end
redis.call('ZADD', KEYS[2], tonumber(ARGV[3]) + tonumber(ARGV[4]), ARGV[6])
redis.call('XACK', KEYS[1], 'workers', ARGV[1])
redis.call('XDEL', KEYS[1], ARGV[1])
return 'wait'
)lua"};
    return s;
}

// KEYS: cancel   ARGV: job ids...  Returns {pending, id...}: how many cancels are asked for in
// the queue, then those of the given jobs among them.
const redis::script& cancels_asked() {
    static const redis::script s{R"lua(
local pending = redis.call('HLEN', KEYS[1])
local out = {pending}
if pending == 0 or #ARGV == 0 then return out end
local asked = redis.call('HMGET', KEYS[1], unpack(ARGV))
for i, v in ipairs(asked) do
  if v then out[#out + 1] = ARGV[i] end
end
return out
)lua"};
    return s;
}

// KEYS: stream   ARGV: max_idle_ms.  Deletes consumers owning nothing, idle longer than max_idle.
// One script, so no entry can be delivered to a consumer between the check and the delete (which
// would drop that entry from the PEL for good).
const redis::script& prune_consumers() {
    static const redis::script s{R"lua(
local max_idle = tonumber(ARGV[1])
local deleted = 0
local consumers = redis.call('XINFO', 'CONSUMERS', KEYS[1], 'workers')
for _, c in ipairs(consumers) do
  local name, pending, idle
  for i = 1, #c, 2 do
    if c[i] == 'name' then name = c[i + 1]
    elseif c[i] == 'pending' then pending = c[i + 1]
    elseif c[i] == 'idle' then idle = c[i + 1] end
  end
  if name and pending == 0 and idle and idle > max_idle then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], 'workers', name)
    deleted = deleted + 1
  end
end
return deleted
)lua"};
    return s;
}

// KEYS: stream, dead, cancel [, id_key]   ARGV: dead_entry_id, job_text, job_id
// Puts a dead job back on the stream and forgets its duplicate-detection state and any cancel
// asked for it, so it runs again.
const redis::script& dead_requeue() {
    static const redis::script s{R"lua(
if redis.call('XDEL', KEYS[2], ARGV[1]) == 0 then return false end
local id = redis.call('XADD', KEYS[1], '*', 'job', ARGV[2])
if KEYS[4] then redis.call('DEL', KEYS[4]) end
redis.call('HDEL', KEYS[3], ARGV[3])
return id
)lua"};
    return s;
}

// KEYS: dead.  Returns how many entries were removed.
const redis::script& dead_purge() {
    static const redis::script s{R"lua(
local n = redis.call('XLEN', KEYS[1])
redis.call('DEL', KEYS[1])
return n
)lua"};
    return s;
}

// KEYS: stream, delayed   ARGV: 'stream' | 'delayed', cursor, count
// One page of the job ids a queue holds: {next cursor, id...}. Stream: cursor is an XRANGE start
// ('-', then '(' .. the last id; '' when the page was the last); an entry's job id is its
// envelope's "id", else the entry id. Delayed: a ZSCAN cursor ('0' when done); members are
// envelopes wharf wrote, which always carry the id. Only ids travel, not envelopes.
const redis::script& held_ids() {
    static const redis::script s{R"lua(
local function id_of(job, fallback)
  local ok, doc = pcall(cjson.decode, job)
  if ok and type(doc) == 'table' and type(doc['id']) == 'string' then return doc['id'] end
  return fallback
end
local count = tonumber(ARGV[3])
local out = {''}
if ARGV[1] == 'stream' then
  local r = redis.call('XRANGE', KEYS[1], ARGV[2], '+', 'COUNT', count)
  for _, e in ipairs(r) do
    local job = nil
    for i = 1, #e[2], 2 do
      if e[2][i] == 'job' then job = e[2][i + 1] end
    end
    out[#out + 1] = job and id_of(job, e[1]) or e[1]
  end
  if #r == count then out[1] = '(' .. r[#r][1] end
else
  local r = redis.call('ZSCAN', KEYS[2], ARGV[2], 'COUNT', count)
  out[1] = r[1]
  for i = 1, #r[2], 2 do
    local id = id_of(r[2][i], nil)
    if id then out[#out + 1] = id end
  end
end
return out
)lua"};
    return s;
}

// KEYS: stream, id_key   ARGV: envelope, token, id_ttl_s
// Reconciliation's re-enqueue of a job Redis lost: the id key is taken for the new run (token,
// active) and the envelope added, unless the id key says the job finished or went dead (then
// nothing is added: 0). Returns the new entry id.
const redis::script& requeue() {
    static const redis::script s{R"lua(
local state = redis.call('HGET', KEYS[2], 'state')
if state == 'done' or state == 'dead' then return 0 end
redis.call('HSET', KEYS[2], 'token', ARGV[2], 'state', 'active')
redis.call('EXPIRE', KEYS[2], ARGV[3])
return redis.call('XADD', KEYS[1], '*', 'job', ARGV[1])
)lua"};
    return s;
}

// A queue's depths in one atomic look. Waiting entries are those after the group's
// last-delivered id; they are counted as XLEN minus the entries at or before it that are still in
// the stream (the in-flight ones: wharf deletes an entry when it acknowledges it), listed up to
// ARGV[1] of them; past that, XLEN minus the pending count. XINFO's lag is not used: Redis 7.0
// reports it wrong after XDEL.
// KEYS: stream, delayed, dead   ARGV: cap
// Returns {waiting, in_flight, delayed, dead, first waiting entry's ms or 0}
const redis::script& queue_depth() {
    static const redis::script s{R"lua(
local len = redis.call('XLEN', KEYS[1])
local delayed = redis.call('ZCARD', KEYS[2])
local dead = redis.call('XLEN', KEYS[3])
local last, pending = nil, 0
if redis.call('EXISTS', KEYS[1]) == 1 then
  for _, g in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
    local f = {}
    for i = 1, #g, 2 do f[g[i]] = g[i + 1] end
    if f['name'] == 'workers' then
      last = f['last-delivered-id']
      pending = tonumber(f['pending'])
    end
  end
end
if len == 0 then return {0, pending, delayed, dead, 0} end
if last == nil then
  local first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)
  return {len, 0, delayed, dead, tonumber(string.match(first[1][1], '^(%d+)'))}
end
local cap = tonumber(ARGV[1])
local delivered = redis.call('XRANGE', KEYS[1], '-', last, 'COUNT', cap)
local waiting
if #delivered < cap then waiting = len - #delivered else waiting = math.max(0, len - pending) end
local oldest = 0
local first = redis.call('XRANGE', KEYS[1], '(' .. last, '+', 'COUNT', 1)
if #first > 0 then oldest = tonumber(string.match(first[1][1], '^(%d+)')) end
return {waiting, pending, delayed, dead, oldest}
)lua"};
    return s;
}

}  // namespace wharf::queue::scripts

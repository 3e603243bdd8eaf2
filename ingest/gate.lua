-- The ingest gate: one round trip per report.
-- KEYS[1] fingerprint -> bug id      KEYS[2] bug id sequence     KEYS[3] reserved id limit
-- KEYS[4] occurrence stream          KEYS[5] "gate is loaded" flag
-- ARGV[1] fingerprint  ARGV[2] timestamp  ARGV[3] normalized report (JSON)
-- ARGV[4] backlog bound (0 = none)    ARGV[5] key prefix
-- Returns {bug id, is_new, status, reopened} or {code}: -1 gate not loaded, -2 backlog full,
-- -3 id block exhausted.
if redis.call('EXISTS', KEYS[5]) == 0 then
  return {-1}
end
local bound = tonumber(ARGV[4])
if bound > 0 and redis.call('XLEN', KEYS[4]) >= bound then
  return {-2}
end
local id = redis.call('GET', KEYS[1])
local is_new = 0
local status
local bug_key
if id then
  bug_key = ARGV[5] .. 'bug:' .. id
  status = redis.call('HGET', bug_key, 'status') or 'NEW'
else
  local limit = tonumber(redis.call('GET', KEYS[3]) or '0')
  local next_id = tonumber(redis.call('GET', KEYS[2]) or '0') + 1
  if next_id > limit then
    return {-3}
  end
  redis.call('SET', KEYS[2], next_id)
  redis.call('SET', KEYS[1], next_id, 'NX')
  id = tostring(next_id)
  is_new = 1
  status = 'NEW'
  bug_key = ARGV[5] .. 'bug:' .. id
end
local reopened = 0
if status == 'FIXED' or status == 'VERIFIED' or status == 'DEPLOYED' then
  status = 'NEW'
  reopened = 1
end
redis.call('HSET', bug_key, 'status', status, 'last_seen', ARGV[2])
redis.call('HINCRBY', bug_key, 'count', 1)
local metrics = ARGV[5] .. 'metrics'
redis.call('HINCRBY', metrics, is_new == 1 and 'new' or 'deduplicated', 1)
if reopened == 1 then redis.call('HINCRBY', metrics, 'reopened', 1) end
redis.call('XADD', KEYS[4], '*', 'b', id, 'f', ARGV[1], 'n', is_new, 'r', reopened, 'p', ARGV[3])
return {tonumber(id), is_new, status, reopened}

-- The ingest gate: one round trip per report.
-- KEYS[1] fingerprint -> bug id   KEYS[2] bug id sequence   KEYS[3] reserved id limit
-- KEYS[4] occurrence stream       KEYS[5] "gate is loaded" flag
-- KEYS[6] the project's ingest key (absent = none required)
-- KEYS[7] the project's rate-limit bucket (hash: tokens, ts)
-- ARGV[1] fingerprint  ARGV[2] timestamp  ARGV[3] normalized report (JSON)
-- ARGV[4] backlog bound (0 = none)  ARGV[5] key prefix  ARGV[6] ingest key given ('' = none)
-- ARGV[7] rate limit per second (0 = off)  ARGV[8] bucket size (burst)
-- Returns {bug id, is_new, status, reopened} or {code, detail}: -1 gate not loaded,
-- -2 backlog full, -3 id block exhausted, -4 ingest key missing, -5 ingest key wrong,
-- -6 rate limited (detail = milliseconds until a token is available).
if redis.call('EXISTS', KEYS[5]) == 0 then
  return {-1}
end
local metrics = ARGV[5] .. 'metrics'
local required = redis.call('GET', KEYS[6])
if required then
  if ARGV[6] == '' then return {-4} end
  if ARGV[6] ~= required then return {-5} end
end
local bound = tonumber(ARGV[4])
if bound > 0 and redis.call('XLEN', KEYS[4]) >= bound then
  return {-2}
end
local id = redis.call('GET', KEYS[1])
local next_id
if not id then
  -- Check for a free id before anything changes, so a retry after a refill starts clean.
  next_id = tonumber(redis.call('GET', KEYS[2]) or '0') + 1
  if next_id > tonumber(redis.call('GET', KEYS[3]) or '0') then
    return {-3}
  end
end

local rate = tonumber(ARGV[7])
if rate > 0 then
  local burst = tonumber(ARGV[8])
  local t = redis.call('TIME')
  local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
  local bucket = redis.call('HMGET', KEYS[7], 'tokens', 'ts')
  local tokens = tonumber(bucket[1]) or burst
  local last = tonumber(bucket[2]) or now
  tokens = math.min(burst, tokens + math.max(0, now - last) * rate)
  if tokens < 1 then
    if id then
      redis.call('HINCRBY', metrics, 'limited_repeat', 1)
      return {-6, math.ceil((1 - tokens) / rate * 1000)}
    end
    -- A first occurrence is never dropped: admit it, and count it.
    redis.call('HINCRBY', metrics, 'limited_new', 1)
  else
    tokens = tokens - 1
  end
  redis.call('HSET', KEYS[7], 'tokens', tokens, 'ts', now)
  redis.call('EXPIRE', KEYS[7], math.ceil(burst / rate) + 60)
end

local is_new = 0
local status
local bug_key
if id then
  bug_key = ARGV[5] .. 'bug:' .. id
  status = redis.call('HGET', bug_key, 'status') or 'NEW'
else
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
redis.call('HINCRBY', metrics, is_new == 1 and 'new' or 'deduplicated', 1)
if reopened == 1 then redis.call('HINCRBY', metrics, 'reopened', 1) end
redis.call('XADD', KEYS[4], '*', 'b', id, 'f', ARGV[1], 'n', is_new, 'r', reopened, 'p', ARGV[3])
return {tonumber(id), is_new, status, reopened}

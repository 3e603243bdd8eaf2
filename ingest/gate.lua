-- The ingest gate: admits a batch of reports (those an API process received in one event-loop
-- tick, or while its earlier calls were out; see ingest/gate.py) in one round trip, each
-- exactly as if it had come alone.
-- KEYS[1] bug id sequence   KEYS[2] reserved id limit   KEYS[3] occurrence stream
-- KEYS[4] "gate is loaded" flag
-- then per report i (base 4 + 3(i-1)): fingerprint -> bug id, the project's ingest key (absent =
-- none required), the project's rate-limit bucket (hash: tokens, ts)
-- ARGV[1] backlog bound (0 = none)  ARGV[2] key prefix  ARGV[3] rate limit per second (0 = off)
-- ARGV[4] bucket size (burst)
-- then per report i (base 4 + 6(i-1)): fingerprint, timestamp, normalized report (JSON),
-- ingest key given ('' = none), its version's SemVer and PEP 440 sort keys ('' = none;
-- store/version.py: keys whose byte order is the version order)
-- Returns one reply per report: {bug id, is_new, status, reopened} or {code, detail}:
-- -1 gate not loaded, -2 backlog full, -3 id block exhausted, -4 ingest key missing,
-- -5 ingest key wrong, -6 rate limited (detail = milliseconds until a token is available).
-- The names it shares with Python are locals that ingest/gate.py puts ahead of this text once,
-- when it loads the script: FIELD_BUG_ID, FIELD_FINGERPRINT, FIELD_IS_NEW, FIELD_REOPENED,
-- FIELD_PAYLOAD (the stream entry, ingest/stream.py), STATUS_FIELD, FIXED_SEMVER_FIELD and
-- FIXED_PEP440_FIELD (the bug hash's status and the sort keys of the version it was fixed in),
-- NEW and REGRESSION (the status a bug starts in, and the set of those a new occurrence
-- reopens it from: store/vocabulary.py).
local SEQUENCE, LIMIT, STREAM = KEYS[1], KEYS[2], KEYS[3]
local bound = tonumber(ARGV[1])
local prefix = ARGV[2]
local rate = tonumber(ARGV[3])
local burst = tonumber(ARGV[4])
local metrics = prefix .. 'metrics'

-- `a` sorts before `b` byte by byte (Lua's `<` on strings follows the server's locale).
local function before(a, b)
  for i = 1, math.min(#a, #b) do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end

-- The report comes from a release older than the one its bug was fixed in: compared as SemVer
-- when both versions are SemVer, else as PEP 440 when both are; never older otherwise.
local function older_than_fix(bug_key, semver, pep440)
  local fixed = redis.call('HMGET', bug_key, FIXED_SEMVER_FIELD, FIXED_PEP440_FIELD)
  if semver ~= '' and fixed[1] then return before(semver, fixed[1]) end
  if pep440 ~= '' and fixed[2] then return before(pep440, fixed[2]) end
  return false
end

local function admit(fp_key, ikey_key, bucket_key, fingerprint, timestamp, payload, given,
    semver, pep440)
  local required = redis.call('GET', ikey_key)
  if required then
    if given == '' then return {-4} end
    if given ~= required then return {-5} end
  end
  if bound > 0 and redis.call('XLEN', STREAM) >= bound then
    return {-2}
  end
  local id = redis.call('GET', fp_key)
  local next_id
  if not id then
    -- Check for a free id before anything changes, so a retry after a refill starts clean.
    next_id = tonumber(redis.call('GET', SEQUENCE) or '0') + 1
    if next_id > tonumber(redis.call('GET', LIMIT) or '0') then
      return {-3}
    end
  end

  if rate > 0 then
    local t = redis.call('TIME')
    local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
    local bucket = redis.call('HMGET', bucket_key, 'tokens', 'ts')
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
    redis.call('HSET', bucket_key, 'tokens', tokens, 'ts', now)
    redis.call('EXPIRE', bucket_key, math.ceil(burst / rate) + 60)
  end

  local is_new = 0
  local status
  local bug_key
  if id then
    bug_key = prefix .. 'bug:' .. id
    status = redis.call('HGET', bug_key, STATUS_FIELD) or NEW
  else
    redis.call('SET', SEQUENCE, next_id)
    redis.call('SET', fp_key, next_id, 'NX')
    id = tostring(next_id)
    is_new = 1
    status = NEW
    bug_key = prefix .. 'bug:' .. id
  end
  local reopened = 0
  if REGRESSION[status] and not older_than_fix(bug_key, semver, pep440) then
    status = NEW
    reopened = 1
    redis.call('HDEL', bug_key, FIXED_SEMVER_FIELD, FIXED_PEP440_FIELD)
  end
  redis.call('HSET', bug_key, STATUS_FIELD, status, 'last_seen', timestamp)
  redis.call('HINCRBY', bug_key, 'count', 1)
  redis.call('HINCRBY', metrics, is_new == 1 and 'new' or 'deduplicated', 1)
  if reopened == 1 then redis.call('HINCRBY', metrics, 'reopened', 1) end
  redis.call('XADD', STREAM, '*', FIELD_BUG_ID, id, FIELD_FINGERPRINT, fingerprint,
    FIELD_IS_NEW, is_new, FIELD_REOPENED, reopened, FIELD_PAYLOAD, payload)
  return {tonumber(id), is_new, status, reopened}
end

local loaded = redis.call('EXISTS', KEYS[4]) == 1
local replies = {}
for i = 0, (#ARGV - 4) / 6 - 1 do
  local k, a = 5 + 3 * i, 5 + 6 * i
  if loaded then
    replies[i + 1] = admit(KEYS[k], KEYS[k + 1], KEYS[k + 2], ARGV[a], ARGV[a + 1],
      ARGV[a + 2], ARGV[a + 3], ARGV[a + 4], ARGV[a + 5])
  else
    replies[i + 1] = {-1}
  end
end
return replies

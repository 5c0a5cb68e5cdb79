// The Lua scripts of the Redis store. Each runs atomically; a script that
// touches several keys keeps them under one hash tag, so in one Cluster slot.

/** A session index (or any hash) field; the hash lives at least as long as its newest field needs. */
export const HASH_SET = `
local ttl = redis.call('PTTL', KEYS[1])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if ttl < tonumber(ARGV[3]) then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return 1`

// Revocation markers live in one hash (field -> '<expiresAt> <value>') with a
// sorted set of expiries beside it, both under one hash tag (one Cluster slot):
// a write is atomic with its publication, and a mirror resyncs by reading that one hash.
// KEYS: expiries, values.
const MARKER_PRELUDE = `
-- A field's live marker: its value and expiry, or nil when it has none or it expired.
local function live (field, now)
  local current = redis.call('HGET', KEYS[2], field)
  if not current then return nil end
  local space = string.find(current, ' ', 1, true)
  local expires = tonumber(string.sub(current, 1, space - 1))
  if expires <= now then return nil end
  return tonumber(string.sub(current, space + 1)), expires
end
-- Writes a marker, indexes its expiry and publishes it; the index lives as long as its last marker.
local function put (field, value, expires, now, channel)
  local entry = string.format('%d %d', expires, value)
  redis.call('HSET', KEYS[2], field, entry)
  redis.call('ZADD', KEYS[1], expires, field)
  if redis.call('PTTL', KEYS[1]) < expires - now then
    redis.call('PEXPIRE', KEYS[1], expires - now)
    redis.call('PEXPIRE', KEYS[2], expires - now)
  end
  redis.call('PUBLISH', channel, entry .. ' ' .. field)
  return entry
end
`

/** ARGV: field, floor, ttl ms, now ms, channel. The marker becomes max(current + 1, floor). */
export const ADVANCE_MARKER = `${MARKER_PRELUDE}
local field, floor, ttl, now = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local value, expires = floor, now + ttl
local known_value, known_expires = live(field, now)
if known_value then
  value = math.max(value, known_value + 1)
  expires = math.max(expires, known_expires)
end
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 100)
if #expired > 0 then
  redis.call('HDEL', KEYS[2], unpack(expired))
  redis.call('ZREM', KEYS[1], unpack(expired))
end
return put(field, value, expires, now, ARGV[5])`

// Puts back markers a mirror's copy holds above the index's (a failover to a node that had not got them): each is
// merged by max, value and expiry apart, so putting one back twice, or one the index already has, changes nothing;
// only a marker that changes is written and published. ARGV: now ms, channel, then field, expiresAt, value for each.
export const MERGE_MARKERS = `${MARKER_PRELUDE}
local now, merged = tonumber(ARGV[1]), 0
for i = 3, #ARGV, 3 do
  local field, expires, value = ARGV[i], tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2])
  local known_value, known_expires = live(field, now)
  if expires > now and (not known_value or value > known_value or expires > known_expires) then
    put(field, math.max(value, known_value or value), math.max(expires, known_expires or expires), now, ARGV[2])
    merged = merged + 1
  end
end
return merged`

// A refresh token's value ('L' + record, 'S' + successor) or, when there is none, 'G' + its family's generation,
// read in the same step: read apart, the two could come from different nodes during a failover (a Cluster client
// whose slot map changed between them), and a record one node lost would look spent behind the generation another
// node holds: a false reuse. KEYS: the token, the family's generation.
const VALUE_OR_GENERATION = `
local function absent () return 'G' .. (redis.call('GET', KEYS[2]) or '0') end`

export const FIND = `${VALUE_OR_GENERATION}
return redis.call('GET', KEYS[1]) or absent()`

// Spends a live refresh token ('L' + record) for its successor, in one step,
// so that of concurrent rotations exactly one sees it live. A spent token
// ('S' + successor) is returned as it is, with nothing written.
// KEYS: token, the family's generation, successor, parent (the token again when there is none); all tagged with
// the family. ARGV: successor record, ttl ms, successor, grace ms, has parent, the successor's generation.
export const ROTATE = `${VALUE_OR_GENERATION}
local value = redis.call('GET', KEYS[1])
if not value then return absent() end
if string.sub(value, 1, 1) ~= 'L' then return value end
redis.call('SET', KEYS[3], 'L' .. ARGV[1], 'PX', ARGV[2])
-- Always written, the highest kept: a chain going on below it (a session kept by a password change, of an earlier
-- version) renews it, so it lives as long as the family's newest token.
local generation = math.max(tonumber(redis.call('GET', KEYS[2])) or 0, tonumber(ARGV[6]))
redis.call('SET', KEYS[2], generation, 'PX', ARGV[2])
if tonumber(ARGV[4]) > 0 then
  redis.call('SET', KEYS[1], 'S' .. ARGV[3], 'PX', ARGV[4])
else
  redis.call('DEL', KEYS[1])
end
if ARGV[5] == '1' then
  local parent = redis.call('GET', KEYS[4])
  -- Only a spent parent: its grace ends. A live one is none of this rotation's business.
  if parent and string.sub(parent, 1, 1) == 'S' then redis.call('DEL', KEYS[4]) end
end
return value`

// With replicas: a spent token is handed out again (its successor) only once its rotation is known replicated. A
// WAIT after a read proves nothing (it waits for this connection's own last write, not for the rotation, which may
// have answered 503 or come from another instance's connection): a write on the spent token itself (its own TTL
// again) follows the rotation in the replication stream, so once replicas acknowledge it they have the rotation.
// KEYS: the token, the family's generation. Returns what FIND does.
export const CONFIRM_SPENT = `${VALUE_OR_GENERATION}
local value = redis.call('GET', KEYS[1])
if not value then return absent() end
if string.sub(value, 1, 1) ~= 'S' then return value end
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
return value`

// Ephemeral entries (counters, challenges): what an unauthenticated client can
// create, so bounded. One hash (field -> '<expiresAt> <payload>') and a sorted
// set ranking the fields for expiry and eviction, under one hash tag. Every
// write prunes some expired fields, then evicts the lowest-ranked ones while
// the index holds more than the bound (never the field just written), so a
// flood recycles this index and never grows Redis.
// KEYS: ranks (zset), values (hash). ARGV[1]: now ms, ARGV[2]: bound; then each script's own.
const EPHEMERAL_PRELUDE = `
local now, bound = tonumber(ARGV[1]), tonumber(ARGV[2])
local function drop (fields)
  redis.call('HDEL', KEYS[2], unpack(fields))
  redis.call('ZREM', KEYS[1], unpack(fields))
end
local function prune ()
  local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 100)
  if #expired > 0 then drop(expired) end
end
local function evict (written)
  local excess = redis.call('ZCARD', KEYS[1]) - bound
  while excess > 0 do
    -- In batches, since unpack has a limit (a bound lowered since the last run leaves many to drop).
    local batch = math.min(excess, 1000)
    local victims = {}
    for _, field in ipairs(redis.call('ZRANGE', KEYS[1], 0, batch)) do
      if field ~= written and #victims < batch then victims[#victims + 1] = field end
    end
    if #victims == 0 then return end
    drop(victims)
    excess = excess - #victims
  end
end
-- Both keys live as long as the highest-ranked entry needs.
local function keep (rank)
  if redis.call('PTTL', KEYS[1]) < rank - now then
    redis.call('PEXPIRE', KEYS[1], rank - now)
    redis.call('PEXPIRE', KEYS[2], rank - now)
  end
end
local function parse (entry)
  local space = string.find(entry, ' ', 1, true)
  return tonumber(string.sub(entry, 1, space - 1)), string.sub(entry, space + 1)
end
`

/** ARGV[3]: field, ARGV[4]: expiresAt, ARGV[5]: payload. */
export const EPHEMERAL_PUT = `${EPHEMERAL_PRELUDE}
local field, expires = ARGV[3], tonumber(ARGV[4])
prune()
redis.call('HSET', KEYS[2], field, ARGV[4] .. ' ' .. ARGV[5])
redis.call('ZADD', KEYS[1], expires, field)
evict(field)
keep(expires)
return 1`

// A missing or expired counter starts at 1 for a new window; an existing one
// keeps its window's end. Its rank becomes that of an entry written now
// (max(rank, now + ttl)), so a counter in use (failed logins under attack) is
// evicted after the flood's fresh entries, not before them; the hash keeps the
// window's real end, which is what reads go by.
/** ARGV[3]: field, ARGV[4]: ttl ms. */
export const EPHEMERAL_INCREMENT = `${EPHEMERAL_PRELUDE}
local field, ttl = ARGV[3], tonumber(ARGV[4])
prune()
local count, expires = 1, now + ttl
local current = redis.call('HGET', KEYS[2], field)
if current then
  local known_expires, known_count = parse(current)
  if known_expires > now then
    count = tonumber(known_count) + 1
    expires = known_expires
  end
end
local rank = math.max(now + ttl, tonumber(redis.call('ZSCORE', KEYS[1], field) or 0))
redis.call('HSET', KEYS[2], field, string.format('%d %d', expires, count))
redis.call('ZADD', KEYS[1], rank, field)
evict(field)
keep(rank)
return count`

/**
 * Get-and-delete: the entry ('<expiresAt> <payload>', what a put back needs), nil if none or expired.
 * ARGV[3]: field.
 */
export const EPHEMERAL_TAKE = `${EPHEMERAL_PRELUDE}
local current = redis.call('HGET', KEYS[2], ARGV[3])
if not current then return nil end
drop({ ARGV[3] })
if parse(current) > now then return current end
return nil`

/** ARGV[3]: field. */
export const EPHEMERAL_DELETE = `${EPHEMERAL_PRELUDE}
drop({ ARGV[3] })
return 1`

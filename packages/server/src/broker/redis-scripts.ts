// The Redis broker's Lua scripts. Each runs atomically on the Redis that owns its channel's keys, so a
// publish stores, trims, records its id and notifies in one step, and a read sees one consistent stream.
//
// Keys of a channel C (prefix P), all with the hash tag {C} so they live on one Cluster shard:
//   P:{C}:s  stream of entries, fields i (message id), t (type as JSON), ts, x (expires at, ms), d (data JSON)
//   P:{C}:m  hash: e (epoch), h (head: last entry id, 0-0 when none), r (last id trimmed by the retention count)
//   P:{C}:n  pub/sub channel (sharded in Cluster) that gets "<header JSON>\n<data JSON>" per publish
// Entry ids are explicit "<ms>-<seq>" with seq < 1000, so `ms * 1000 + seq` is a safe integer sort order.

/** Helpers every script starts with. */
const prelude = `
local function split(id)
  local ms, seq = string.match(id, '^(%d+)%-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local function cmp(a, b)
  local am, as = split(a)
  local bm, bs = split(b)
  if am ~= bm then return am < bm and -1 or 1 end
  if as ~= bs then return as < bs and -1 or 1 end
  return 0
end
local function nowMs()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- A channel's bookkeeping, made on first use. A stream whose bookkeeping is gone, or bookkeeping whose
-- stream is gone (evicted, or lost by a restart), cannot be trusted to be complete: the channel starts over
-- under a new epoch, and its readers are told they have a gap.
local function channelState(sk, mk, candidateEpoch)
  local meta = redis.call('HMGET', mk, 'e', 'h', 'r')
  local head = meta[2] or '0-0'
  if meta[1] and (head == '0-0' or redis.call('EXISTS', sk) == 1) then
    return meta[1], head, meta[3] or '0-0'
  end
  redis.call('DEL', sk)
  redis.call('HSET', mk, 'e', candidateEpoch, 'h', '0-0', 'r', '0-0')
  return candidateEpoch, '0-0', '0-0'
end
`;

/**
 * KEYS: stream and meta key of each channel (2 per channel), then one idempotency key per message that has one.
 * ARGV[1]: JSON {n: retention count, ep: candidate epoch, life: key lifetime ms, p: prefix, sh: 1 for SPUBLISH,
 *   ch: channel names, m: [{c: channel indexes (1-based), t: type JSON, id, ttl: ms, k: idempotency KEYS index or 0,
 *   s: scope, f: fingerprint}]}; ARGV[1 + i]: data JSON of message i.
 * Returns {'conflict', id} without writing anything, or {'ok', dup1, dup2, ...} (1 = an earlier publish had the id).
 */
export const publishScript = `${prelude}
local cfg = cjson.decode(ARGV[1])
local seen = {}
for _, m in ipairs(cfg.m) do
  if m.k > 0 then
    local want = m.s .. '\\n' .. m.f
    local had = seen[m.id] or redis.call('GET', KEYS[m.k])
    if had and had ~= want then return {'conflict', m.id} end
    seen[m.id] = want
  end
end
local now = nowMs()
local state = {}
local function chan(ci)
  if not state[ci] then
    local e, h, r = channelState(KEYS[2 * ci - 1], KEYS[2 * ci], cfg.ep)
    state[ci] = {epoch = e, head = h}
  end
  return state[ci]
end
local lastMs, lastSeq = 0, -1
local result = {'ok'}
for index, m in ipairs(cfg.m) do
  if m.k > 0 and redis.call('EXISTS', KEYS[m.k]) == 1 then
    result[#result + 1] = 1
  else
    -- One id for every copy, after each channel's head and after the batch's previous message.
    local ms, seq = now, 0
    if lastMs > ms or (lastMs == ms and lastSeq >= seq) then ms, seq = lastMs, lastSeq + 1 end
    for _, ci in ipairs(m.c) do
      local hm, hs = split(chan(ci).head)
      if hm > ms or (hm == ms and hs >= seq) then ms, seq = hm, hs + 1 end
    end
    if seq >= 1000 then ms, seq = ms + 1, 0 end
    lastMs, lastSeq = ms, seq
    local msText = string.format('%.0f', ms)
    local id = msText .. '-' .. seq
    local data = ARGV[1 + index]
    local expires = string.format('%.0f', now + m.ttl)
    local entries = {}
    for _, ci in ipairs(m.c) do
      local sk, mk = KEYS[2 * ci - 1], KEYS[2 * ci]
      local st = chan(ci)
      local len = redis.call('XLEN', sk)
      if len >= cfg.n then
        local trimmed = redis.call('XRANGE', sk, '-', '+', 'COUNT', len - cfg.n + 1)
        redis.call('HSET', mk, 'r', trimmed[#trimmed][1])
      end
      redis.call('XADD', sk, 'MAXLEN', cfg.n, id, 'i', m.id, 't', m.t, 'ts', msText, 'x', expires, 'd', data)
      redis.call('HSET', mk, 'h', id)
      entries[#entries + 1] = {cfg.ch[ci], st.epoch, id, st.head}
      st.head = id
    end
    if m.k > 0 then redis.call('SET', KEYS[m.k], m.s .. '\\n' .. m.f, 'PX', m.ttl) end
    local payload = cjson.encode({i = m.id, t = m.t, ts = msText, e = entries}) .. '\\n' .. data
    for _, ci in ipairs(m.c) do
      redis.call(cfg.sh == 1 and 'SPUBLISH' or 'PUBLISH', cfg.p .. ':{' .. cfg.ch[ci] .. '}:n', payload)
    end
    result[#result + 1] = 0
  end
end
for ci, _ in pairs(state) do
  redis.call('PEXPIRE', KEYS[2 * ci - 1], cfg.life)
  redis.call('PEXPIRE', KEYS[2 * ci], cfg.life)
end
return result
`;

/**
 * KEYS: stream, meta. ARGV: epoch, offset (or '' for a position from nowhere), limit, candidate epoch, key lifetime ms.
 * Returns {epoch, from, head, gap, more, id1, fields1, id2, fields2, ...}: entries after the position, oldest first,
 * skipping those whose ttl ran out (a gap for the reader), at most `limit`.
 */
export const readScript = `${prelude}
local sk, mk = KEYS[1], KEYS[2]
local limit = tonumber(ARGV[3])
local epoch, head, removed = channelState(sk, mk, ARGV[4])
redis.call('PEXPIRE', sk, ARGV[5])
redis.call('PEXPIRE', mk, ARGV[5])
local from, gap = ARGV[2], 0
if ARGV[1] ~= epoch or from == '' or cmp(from, head) > 0 then
  gap, from = 1, removed
elseif cmp(from, removed) < 0 then
  gap, from = 1, removed
end
local now = nowMs()
local out = {epoch, from, head, 0, 0}
local taken, more, cursor = 0, 0, from
while more == 0 do
  local want = limit + 1 - taken
  local batch = redis.call('XRANGE', sk, '(' .. cursor, '+', 'COUNT', want)
  for _, entry in ipairs(batch) do
    cursor = entry[1]
    if tonumber(entry[2][8]) <= now then
      gap = 1
    elseif taken == limit then
      more = 1
      break
    else
      taken = taken + 1
      out[#out + 1] = entry[1]
      out[#out + 1] = entry[2]
    end
  end
  if #batch < want then break end
end
out[4], out[5] = gap, more
return out
`;

/** KEYS: stream, meta. ARGV: candidate epoch, key lifetime ms. Returns {epoch, head}. */
export const headScript = `${prelude}
local epoch, head = channelState(KEYS[1], KEYS[2], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return {epoch, head}
`;

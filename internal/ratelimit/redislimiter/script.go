package redislimiter

// Lua in Redis computes with doubles: integers are exact only below 2^53,
// and Unix nanoseconds (~1.8e18) are far above. The scripts therefore hold
// every integer as two limbs h·1e9 + l (0 <= l < 1e9, h < 2^35): adding,
// subtracting and comparing limbs is exact for any int64 and for the sum
// of two. The client computes what needs a multiplication or a division
// (Cost·Window/Limit as a whole part q and a remainder r, in 128 bits,
// exactly as the local limiter does) and passes every number already split
// into limbs; the script only adds, compares and stores, with inline
// arithmetic (a script run costs Redis CPU on every verify). A bucket is
// stored as the string "<tat h> <tat l> <rem h> <rem l> <lim>": the local
// limiter's bucket, TAT = tat h·1e9 + tat l ns, plus rem/lim ns.
//
// checkScript decides every limit of one Check in one call, atomically
// (Redis runs one script at a time): it reads each bucket once, charges the
// limits in order (a bucket named twice is charged cumulatively), and writes
// the charged buckets only when every limit allows. It returns, per limit,
// the bucket as stored before the call (false: none), then the index of the
// first denying limit (-1: allowed). The client computes the reported
// states from the stored buckets with the same Go code as the local limiter
// and checks the script's decision against its own.
//
// KEYS[i]: the bucket of limit i.
// ARGV: now h, now l, expiry margin (ms); then per limit 11 values:
// Limit, Limit h, Limit l, Window h, Window l, q h, q l, r h, r l,
// impossible (Cost > Limit: "1"), charges (Cost > 0: "1").
const checkScript = `
local B = 1000000000
local nh, nl = tonumber(ARGV[1]), tonumber(ARGV[2])
local margin = tonumber(ARGV[3])
local n = #KEYS
local cur, first, raw, charged = {}, {}, {}, {}
local denied = -1
for i = 1, n do
  local k = KEYS[i]
  local o = 3 + (i - 1) * 11
  local L = ARGV[o + 1]
  local b = cur[k]
  if first[k] == nil then
    local s = redis.call('GET', k)
    first[k] = s
    b = nil
    if s then
      local a1, a2, a3, a4, a5 = string.match(s, '^(%d+) (%d+) (%d+) (%d+) (%d+)$')
      if a1 then b = {tonumber(a1), tonumber(a2), tonumber(a3), tonumber(a4), a5} end
    end
  end
  raw[i] = first[k]
  local th, tl, mh, ml
  if b == nil or b[1] < nh or (b[1] == nh and b[2] < nl) then
    th, tl, mh, ml = nh, nl, 0, 0
  elseif b[5] ~= L then
    th, tl, mh, ml = b[1], b[2], 0, 0
    if b[3] ~= 0 or b[4] ~= 0 then
      tl = tl + 1
      if tl >= B then tl = tl - B; th = th + 1 end
    end
  else
    th, tl, mh, ml = b[1], b[2], b[3], b[4]
  end
  local ok = false
  if ARGV[o + 10] ~= '1' then
    local Lh, Ll = tonumber(ARGV[o + 2]), tonumber(ARGV[o + 3])
    local xh, xl = th + tonumber(ARGV[o + 6]), tl + tonumber(ARGV[o + 7])
    if xl >= B then xl = xl - B; xh = xh + 1 end
    local yh, yl = mh + tonumber(ARGV[o + 8]), ml + tonumber(ARGV[o + 9])
    if yl >= B then yl = yl - B; yh = yh + 1 end
    if yh > Lh or (yh == Lh and yl >= Ll) then
      yh, yl = yh - Lh, yl - Ll
      if yl < 0 then yl = yl + B; yh = yh - 1 end
      xl = xl + 1
      if xl >= B then xl = xl - B; xh = xh + 1 end
    end
    local eh, el = nh + tonumber(ARGV[o + 4]), nl + tonumber(ARGV[o + 5])
    if el >= B then el = el - B; eh = eh + 1 end
    if xh < eh or (xh == eh and (xl < el or (xl == el and yh == 0 and yl == 0))) then
      ok = true
      th, tl, mh, ml = xh, xl, yh, yl
    end
  end
  if not ok and denied < 0 then denied = i - 1 end
  local nx = {th, tl, mh, ml, L}
  cur[k] = nx
  if ARGV[o + 11] == '1' then charged[k] = nx end
end
if denied < 0 then
  for k, b in pairs(charged) do
    local dh, dl = b[1] - nh, b[2] - nl
    if dl < 0 then dl = dl + B; dh = dh - 1 end
    local ttl = dh * 1000 + math.floor(dl / 1000000) + 1 + margin
    redis.call('SET', k, b[1] .. ' ' .. b[2] .. ' ' .. b[3] .. ' ' .. b[4] .. ' ' .. b[5], 'PX', ttl)
  end
end
raw[n + 1] = denied
return raw
`

// refundScript gives back Cost·Window/Limit on each bucket (the client
// passes q and r of min(Cost, Limit)·Window/Limit), last limit first, never
// past full; a bucket left full is deleted.
//
// KEYS[i]: the bucket of limit i.
// ARGV: now h, now l, expiry margin (ms); then per limit 8 values:
// Limit, Limit h, Limit l, q h, q l, r h, r l, charges (Cost > 0: "1").
const refundScript = `
local B = 1000000000
local nh, nl = tonumber(ARGV[1]), tonumber(ARGV[2])
local margin = tonumber(ARGV[3])
for i = #KEYS, 1, -1 do
  local k = KEYS[i]
  local o = 3 + (i - 1) * 8
  if ARGV[o + 8] == '1' then
    local s = redis.call('GET', k)
    local a1, a2, a3, a4, a5
    if s then a1, a2, a3, a4, a5 = string.match(s, '^(%d+) (%d+) (%d+) (%d+) (%d+)$') end
    if a1 then
      local L = ARGV[o + 1]
      local Lh, Ll = tonumber(ARGV[o + 2]), tonumber(ARGV[o + 3])
      local qh, ql = tonumber(ARGV[o + 4]), tonumber(ARGV[o + 5])
      local rh, rl = tonumber(ARGV[o + 6]), tonumber(ARGV[o + 7])
      local th, tl, mh, ml = tonumber(a1), tonumber(a2), tonumber(a3), tonumber(a4)
      if th < nh or (th == nh and tl < nl) then
        th, tl, mh, ml = nh, nl, 0, 0
      elseif a5 ~= L then
        if mh ~= 0 or ml ~= 0 then
          tl = tl + 1
          if tl >= B then tl = tl - B; th = th + 1 end
        end
        mh, ml = 0, 0
      end
      -- (t, m) - (q, r), borrowing one ns when m < r
      local borrow = mh < rh or (mh == rh and ml < rl)
      local yh, yl
      if borrow then yh, yl = mh + Lh - rh, ml + Ll - rl else yh, yl = mh - rh, ml - rl end
      if yl >= B then yl = yl - B; yh = yh + 1 elseif yl < 0 then yl = yl + B; yh = yh - 1 end
      -- full afterwards iff t < now + q (+1) or equal with no remainder
      local fh, fl = nh + qh, nl + ql
      if borrow then fl = fl + 1 end
      if fl >= B then fl = fl - B; fh = fh + 1 end
      if th < fh or (th == fh and (tl < fl or (tl == fl and yh == 0 and yl == 0))) then
        redis.call('DEL', k)
      else
        local xh, xl = th - qh, tl - ql
        if borrow then xl = xl - 1 end
        if xl < 0 then xl = xl + B; xh = xh - 1 end
        local dh, dl = xh - nh, xl - nl
        if dl < 0 then dl = dl + B; dh = dh - 1 end
        local ttl = dh * 1000 + math.floor(dl / 1000000) + 1 + margin
        redis.call('SET', k, xh .. ' ' .. xl .. ' ' .. yh .. ' ' .. yl .. ' ' .. L, 'PX', ttl)
      end
    end
  end
end
return 0
`

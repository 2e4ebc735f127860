-- GET <BENCH_PREFIX><id> with the id cycling through BENCH_IDS seeded organizations
-- (org_0SEED0000000001 …), so reads spread over the table instead of one hot row (wrk script).
local prefix = os.getenv("BENCH_PREFIX") or "/organizations/"
local ids = tonumber(os.getenv("BENCH_IDS") or "10000")
local n = 0
function request()
  n = n % ids + 1
  return wrk.format("GET", string.format("%sorg_0SEED%010d", prefix, n))
end

-- `make bench`: public submits (or the baseline insert, same body), each to a different free slot, so the
-- figure is throughput and not 409s. BENCH_PATH: /api/v1/bookings/submit or /bench/baseline.
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")

local path = os.getenv("BENCH_PATH")
local n = 0

function request()
  n = n + 1
  local resource, start = slot(n)
  count("submit")
  return submit_request(path, resource, start, "b" .. data.region .. "-" .. tid .. "-" .. n)
end

-- `make bench`: staff approvals (POST /api/v1/bookings/{id}/approve with the manager's knox token) of
-- pre-seeded pending bookings, each request a different booking, each thread its own slice of them.
-- A thread that runs out re-sends its last one (a 409, counted as an error and as approvals_exhausted):
-- the seeding is sized so that it does not happen.
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")

local n = 0
local headers = {["Authorization"] = "Bearer " .. data.token, ["Content-Type"] = "application/json"}

function request()
  local mine = data.approvals[tid + 1]
  if n < #mine then
    n = n + 1
    count("approve")
  else
    count("approvals_exhausted")
  end
  local booking = mine[n]
  return wrk.format("POST", "/api/v1/bookings/" .. booking[1] .. "/approve", headers,
    '{"clientBookingLastUpdatedAt":"' .. booking[2] .. '"}')
end

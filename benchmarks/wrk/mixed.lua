-- `make bench`: the mixed load. Each thread cycles through ten requests: six calendar reads (the public
-- calendar page by day and by week, the public module availability, the staff resource availability),
-- two public submits to free slots of its own, and two staff approvals of pre-seeded pending bookings
-- that do not conflict, each approved once (every thread has its own slice of them).
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")

local n, step, approved = 0, 0, 0
local staff = {["Authorization"] = "Bearer " .. data.token}

local function calendar(kind)
  if kind == 1 then
    count("calendar_week")
    return wrk.format("GET", data.calendar_week)
  elseif kind == 2 then
    count("calendar_day")
    return wrk.format("GET", data.calendar_day)
  elseif kind == 3 then
    count("public_availability")
    return wrk.format("GET", data.public_availability)
  end
  count("staff_availability")
  return wrk.format("GET", data.staff_availability, staff)
end

local function approve()
  local mine = data.approvals[tid + 1]
  if approved >= #mine then
    count("approvals_exhausted")
    return calendar(1)
  end
  approved = approved + 1
  local booking = mine[approved]
  count("approve")
  local headers = {["Authorization"] = "Bearer " .. data.token, ["Content-Type"] = "application/json"}
  return wrk.format("POST", "/api/v1/bookings/" .. booking[1] .. "/approve", headers,
    '{"clientBookingLastUpdatedAt":"' .. booking[2] .. '"}')
end

local function submit()
  n = n + 1
  local resource, start = slot(n)
  count("submit")
  return submit_request("/api/v1/bookings/submit", resource, start, "m" .. data.region .. "-" .. tid .. "-" .. n)
end

local plan = {1, 3, submit, approve, 4, 2, submit, approve, 3, 1}

function request()
  step = step % #plan + 1
  local what = plan[step]
  if type(what) == "function" then
    return what()
  end
  return calendar(what)
end

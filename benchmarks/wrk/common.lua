-- Shared by the wrk scripts of `make bench` (benchmarks/run.py writes the data file and reads the line
-- done() prints). Each wrk thread gets a number `tid` (0, 1, ...) so that threads use disjoint slots.
data = dofile(os.getenv("BENCH_LUA_DATA"))

local threads = {}
statuses = {}  -- per thread: HTTP status -> count
sent = {}      -- per thread: kind of request -> count

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

queries = {}  -- per thread: total of the X-Bench-Queries headers, and how many answers had one

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  local q = tonumber(headers["X-Bench-Queries"])
  if q then
    queries.total = (queries.total or 0) + q
    queries.answers = (queries.answers or 0) + 1
  end
end

function count(kind)
  sent[kind] = (sent[kind] or 0) + 1
end

function iso(epoch)
  return os.date("!%Y-%m-%dT%H:%M:%SZ", epoch)
end

-- A public submission of one free half hour on one resource (distinct booker per request).
function submit_request(path, resource, start, booker)
  local body = '{"submission":true,"orgId":"' .. data.org .. '","bookingModuleId":"' .. data.module ..
    '","portalId":"' .. data.portal .. '","contact":{"name":"Bench booker","email":"' .. booker ..
    '@example.com"},"event":{"title":"Bench request","start":"' .. iso(start) .. '","end":"' ..
    iso(start + 1800) .. '","resourceIds":["' .. resource .. '"]}}'
  return wrk.format("POST", path, {["Content-Type"] = "application/json"}, body)
end

-- Slot n of thread tid: resources in turn, one hour apart, each thread in its own stretch of time.
function slot(n)
  local resources = data.resources
  local resource = resources[(n % #resources) + 1]
  local hour = tid * data.hours_per_thread + math.floor(n / #resources)
  return resource, data.base_epoch + hour * 3600
end

local function merge(into, name)
  for _, thread in ipairs(threads) do
    for key, value in pairs(thread:get(name) or {}) do
      into[tostring(key)] = (into[tostring(key)] or 0) + value
    end
  end
  return into
end

local function encode(map)
  local parts = {}
  for key, value in pairs(map) do
    table.insert(parts, string.format('"%s":%d', key, value))
  end
  return "{" .. table.concat(parts, ",") .. "}"
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,' ..
    '"p50_us":%d,"p95_us":%d,"p99_us":%d,"max_us":%d,"statuses":%s,"sent":%s,"queries":%s}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max,
    encode(merge({}, "statuses")), encode(merge({}, "sent")), encode(merge({}, "queries"))))
end

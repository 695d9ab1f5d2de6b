-- The registration a browser makes: GET /events/{slug} as a new visitor (no cookie: the page sets one), POST the
-- form with the page's hidden fields and that cookie (303), then GET the "registered" page (200). Each flow is a
-- fresh visitor: its own address (X-Forwarded-For from the trusted 127.0.0.1 proxy) and e-mail.
-- Run with one connection per thread (-t N -c N): wrk's Lua state is per thread, and the flow has three steps.
-- Arguments: slug run_tag
package.path = "bench/?.lua;" .. package.path
local common = require("common")
local ffi = require("ffi")  -- wrk's LuaJIT: a monotonic clock, to time each whole flow (wrk times requests)
ffi.cdef[[ typedef struct { long tv_sec; long tv_nsec; } flow_timespec; int clock_gettime(int, flow_timespec *); ]]
local clock = ffi.new("flow_timespec")
local threads = {}

local function ms()
  ffi.C.clock_gettime(1, clock)  -- CLOCK_MONOTONIC
  return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
end

function setup(thread)
  common.setup(thread)
  table.insert(threads, thread)
end

local slug, tag
local n, step, cookie, csrf, version, ip, started = 0, "page", nil, nil, nil, nil, 0
unexpected = 0
flows = {}  -- each completed flow's milliseconds, read by done()

function init(args)
  slug, tag = args[1], args[2]
end

function request()
  if step == "page" then
    n = n + 1
    started = ms()
    ip = string.format("10.%d.%d.%d", (tid * 4 + math.floor(n / 65536)) % 256, math.floor(n / 256) % 256, n % 256)
    return wrk.format("GET", "/events/" .. slug, {["X-Forwarded-For"] = ip})
  end
  local headers = {["Cookie"] = cookie, ["X-Forwarded-For"] = ip}
  if step == "post" then
    local body = "csrf_token=" .. csrf .. "&first_name=Ana&last_name=Popescu-%C8%98tefan" ..
      "&email=f" .. (tid * 1000000 + n) .. "-" .. tag .. "%40flow.example&organisation=Prim%C4%83ria+Sector+1" ..
      "&job_title=Consilier&consent_processing=on&consent_version=" .. version .. "&age_confirmed=on&website="
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    return wrk.format("POST", "/events/" .. slug .. "/register", headers, body)
  end
  return wrk.format("GET", "/events/" .. slug .. "/registered", headers)
end

local function failed()
  unexpected = unexpected + 1
  step = "page"
end

function response(status, headers, body)
  if step == "page" then
    local set = headers["Set-Cookie"] or headers["set-cookie"]
    csrf = body and string.match(body, 'name="csrf_token" value="([^"]+)"')
    version = body and string.match(body, 'name="consent_version" value="(%d+)"')
    if status ~= 200 or set == nil or csrf == nil or version == nil then
      return failed()
    end
    cookie = string.match(set, "^([^;]+)")
    step = "post"
  elseif step == "post" then
    if status ~= 303 then
      return failed()
    end
    step = "registered"
  else
    if status ~= 200 then
      return failed()
    end
    table.insert(flows, ms() - started)
    step = "page"
  end
end

function done(summary, latency, requests)
  common.done(summary, latency, requests)
  local all = {}
  for _, t in ipairs(threads) do
    for _, v in ipairs(t:get("flows")) do
      table.insert(all, v)
    end
  end
  table.sort(all)
  local function at(p)
    return #all > 0 and all[math.max(1, math.ceil(#all * p))] or 0
  end
  io.write(string.format('FLOW_JSON {"flows": %d, "p50_ms": %.2f, "p99_ms": %.2f, "max_ms": %.2f}\n',
    #all, at(0.5), at(0.99), at(1.0)))
end

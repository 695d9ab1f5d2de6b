-- POST /events/{slug}/register with a unique e-mail per request (counter + thread id) and a unique client IP
-- (X-Forwarded-For from the trusted 127.0.0.1 proxy), so the per-IP rate limit sees distinct visitors.
-- Arguments: path cookie csrf_token consent_version run_tag expected_status [extra form fields, URL-encoded]
package.path = "bench/?.lua;" .. package.path
local common = require("common")
setup = common.setup
done = common.done

local path, cookie, csrf, version, tag, expected, extra
local n = 0
unexpected = 0

function init(args)
  path, cookie, csrf, version, tag = args[1], args[2], args[3], args[4], args[5]
  expected = tonumber(args[6] or "303")
  extra = args[7] and ("&" .. args[7]) or ""
end

function request()
  n = n + 1
  local id = tid * 1000000 + n
  local ip = string.format("10.%d.%d.%d", (tid * 16 + math.floor(n / 65536)) % 256, math.floor(n / 256) % 256, n % 256)
  local body = "csrf_token=" .. csrf .. "&first_name=Ana&last_name=Popescu-%C8%98tefan" ..
    "&email=r" .. id .. "-" .. tag .. "%40bench.example&organisation=Prim%C4%83ria+Sector+1" ..
    "&job_title=Consilier&consent_processing=on&consent_version=" .. version .. "&age_confirmed=on&website=" .. extra
  -- wrk.format uses only the headers it is given, so the cookie and content type go in each time.
  local headers = {["Cookie"] = cookie, ["Content-Type"] = "application/x-www-form-urlencoded", ["X-Forwarded-For"] = ip}
  return wrk.format("POST", path, headers, body)
end

function response(status, headers, body)
  if status ~= expected then
    unexpected = unexpected + 1
  end
end

-- The join flow: GET /events/{slug}/join/{token} (303 + session cookie), then GET /events/{slug}/watch (200).
-- Run with one connection per thread (-t N -c N): wrk's Lua state is per thread, and the flow is two steps.
-- Arguments: slug tokens_file
package.path = "bench/?.lua;" .. package.path
local common = require("common")
setup = common.setup
done = common.done

local slug, tokens = nil, {}
local i, cookie, step = 0, nil, "join"
unexpected = 0

function init(args)
  slug = args[1]
  for line in io.lines(args[2]) do
    table.insert(tokens, line)
  end
  i = tid * 7919
end

function request()
  if step == "watch" then
    return wrk.format("GET", "/events/" .. slug .. "/watch", {["Cookie"] = cookie})
  end
  i = i + 1
  local token = tokens[(i % #tokens) + 1]
  return wrk.format("GET", "/events/" .. slug .. "/join/" .. token, {["Cookie"] = ""})
end

function response(status, headers, body)
  if step == "join" then
    local set = headers["Set-Cookie"] or headers["set-cookie"]
    if status ~= 303 or set == nil then
      unexpected = unexpected + 1
      return
    end
    cookie = string.match(set, "^([^;]+)")
    step = "watch"
  else
    if status ~= 200 then
      unexpected = unexpected + 1
    end
    step = "join"
  end
end

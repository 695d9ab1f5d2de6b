-- GET of one page at a steady pace: each connection waits 20 ms after each answer (4 connections: about 200
-- requests a second), the traffic of a busy event page rather than as much as the machine can take; non-200 counted.
package.path = "bench/?.lua;" .. package.path
local common = require("common")
setup = common.setup
done = common.done
unexpected = 0

function delay()
  return 20
end

function response(status, headers, body)
  if status ~= 200 then
    unexpected = unexpected + 1
  end
end

-- GET /healthz, counting anything but 200.
package.path = "bench/?.lua;" .. package.path
local common = require("common")
setup = common.setup
done = common.done
unexpected = 0

function response(status, headers, body)
  if status ~= 200 then
    unexpected = unexpected + 1
  end
end

-- Shared by the wrk scripts: per-thread ids, status counting, and a one-line JSON summary at the end.
local M = {}
local threads = {}
local counter = 0

function M.setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function M.done(summary, latency, requests)
  local unexpected = 0
  for _, t in ipairs(threads) do
    unexpected = unexpected + (t:get("unexpected") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "bytes": %d, "socket_errors": %d, "status_errors": %d, ' ..
    '"unexpected": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect + e.read + e.write + e.timeout, e.status,
    unexpected, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end

return M

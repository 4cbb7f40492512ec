-- What both wrk scripts of P2 (bench/scan.lua, bench/writes.lua) do with answers: count the
-- non-2xx ones per thread, keep the first, and print one JSON line for the Python driver
-- (bench/scan_rate.py) when the run is done. Loaded with dofile() by each script; reads the
-- global `threads` the script's setup() fills.

function response(status, headers, body)
   if status < 200 or status > 299 then
      failures = failures + 1
      if first_failure == "" then
         first_failure = status .. " " .. string.sub(body or "", 1, 200)
      end
   end
end

local function quoted(text)
   return '"' .. string.gsub(text, '[%c"\\]', function(c) return string.format("\\u%04x", string.byte(c)) end) .. '"'
end

function done(summary, latency, requests)
   local failed, exhausted_any, first = 0, 0, ""
   for _, thread in ipairs(threads) do
      failed = failed + thread:get("failures")
      exhausted_any = math.max(exhausted_any, thread:get("exhausted"))
      if first == "" then first = thread:get("first_failure") end
   end
   local e = summary.errors
   io.write(string.format(
      'WRK_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"non_2xx":%d,' ..
      '"socket_errors":%d,"exhausted":%d,"first_failure":%s}\n',
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), failed,
      e.connect + e.read + e.write + e.timeout, exhausted_any, quoted(first)))
end

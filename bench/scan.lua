-- wrk script for P2 (bench/scan_rate.py): every request scans a distinct battery.
--
--   wrk -t T -c C -d S --latency -s bench/scan.lua URL -- CODES_FILE|fake TOKEN RUN_ID
--
-- Each wrk thread takes every T-th line of CODES_FILE (so no two requests scan the same battery),
-- or makes up codes when given "fake" (the bare app does not look them up). Scan ids are
-- RUN_ID-thread-counter, unique across threads and runs. done() prints one JSON line for the
-- Python driver: requests, duration, latency percentiles, non-2xx answers and the first of them.

threads = {}  -- global: done() in wrk_report.lua reads it
-- response() and done(): counting failures and printing the JSON line, shared with the other load
dofile((debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "./") .. "wrk_report.lua")
local thread_count = 0

function setup(thread)
   thread:set("index", thread_count)
   thread_count = thread_count + 1
   table.insert(threads, thread)
end

function init(args)
   source, token, run_id = args[1], args[2], args[3]
   stride = tonumber(args[4]) or 1
   codes = {}
   counter = 0
   failures = 0
   exhausted = 0
   first_failure = ""
   if source ~= "fake" then
      local n = 0
      for line in io.lines(source) do
         if n % stride == index then
            codes[#codes + 1] = line
         end
         n = n + 1
      end
   end
   wrk.method = "POST"
   wrk.headers["Content-Type"] = "application/json"
   wrk.headers["Authorization"] = "Bearer " .. token
end

function request()
   counter = counter + 1
   local code
   if source == "fake" then
      code = string.format("3CAPB%019d", index * 1000000000 + counter)
   else
      code = codes[counter]
      if code == nil then -- more requests than batteries: reuse, and say so
         exhausted = 1
         code = codes[(counter - 1) % #codes + 1]
      end
   end
   local body = string.format('{"text":"%s","client_scan_id":"%s-%d-%d"}', code, run_id, index, counter)
   return wrk.format(nil, nil, nil, body)
end

-- wrk script for P2's mixed write load (bench/scan_rate.py --mix): scans, installs, retirements
-- and hand-overs in turn, each on a battery of its own, each by the participant that may do it.
--
--   wrk -t 1 -c C -d S --latency -s bench/writes.lua URL -- SOURCE OPERATOR_TOKEN MAKER_TOKEN RUN_ID POINT VIN RECYCLER
--
-- SOURCE is a file of "kind code" lines (kind: scan, install, retire, handover; the Python driver
-- interleaves them and prepares each battery in the state its kind needs), or "fake" for the bare
-- app (made-up codes, the kinds in the same turn). The operator scans and hands over at POINT; the
-- vehicle maker installs (in VIN) and retires. Request ids are RUN_ID-counter, so no request is a
-- replay. done() prints one JSON line for the Python driver, as bench/scan.lua does (wrk does not
-- tell which request an answer belongs to, so the figures are for the mix as a whole).

local KINDS = { "scan", "install", "retire", "handover" }
threads = {}  -- global: done() in wrk_report.lua reads it
-- response() and done(): counting failures and printing the JSON line, shared with the other load
dofile((debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "./") .. "wrk_report.lua")

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   source, operator_token, maker_token, run_id = args[1], args[2], args[3], args[4]
   point, vin, recycler = args[5], args[6], args[7]
   jobs = {}
   counter = 0
   failures = 0
   exhausted = 0
   first_failure = ""
   if source ~= "fake" then
      for line in io.lines(source) do
         local kind, code = string.match(line, "^(%a+) (%w+)$")
         if kind ~= nil then
            jobs[#jobs + 1] = { kind, code }
         end
      end
   end
end

local function job(n)
   if source == "fake" then
      return KINDS[(n - 1) % #KINDS + 1], string.format("3CAPB%019d", n)
   end
   local found = jobs[n]
   if found == nil then -- more requests than prepared batteries: reuse (refused), and say so
      exhausted = 1
      found = jobs[(n - 1) % #jobs + 1]
   end
   return found[1], found[2]
end

function request()
   counter = counter + 1
   local kind, code = job(counter)
   local id = string.format("%s-%d", run_id, counter)
   local path, body, token
   if kind == "scan" then
      path = "/api/v1/collection-points/" .. point .. "/scans"
      body = string.format('{"text":"%s","client_scan_id":"%s"}', code, id)
      token = operator_token
   elseif kind == "install" then
      path = "/api/v1/batteries/" .. code .. "/install"
      body = string.format('{"vin":"%s","request_id":"%s"}', vin, id)
      token = maker_token
   elseif kind == "retire" then
      path = "/api/v1/batteries/" .. code .. "/retire"
      body = string.format('{"reason":"capacity below 80%%","request_id":"%s"}', id)
      token = maker_token
   else
      path = "/api/v1/batteries/" .. code .. "/handover"
      body = string.format('{"receiver_id":"%s","activity":"recycling","request_id":"%s"}', recycler, id)
      token = operator_token
   end
   local headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token }
   return wrk.format("POST", path, headers, body)
end

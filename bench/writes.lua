-- wrk script of bench/checkout.py, bench/cart.py and bench/mixed.py: prepared requests (writes
-- each with its own cart). `wrk ... --script bench/writes.lua URL -- MODE FILE OK THREADS
-- [PAUSE]`. FILE holds one request a line, "PATH<TAB>CART TOKEN (or empty)<TAB>JSON BODY";
-- thread k of THREADS takes lines k, k + THREADS, ... MODE "once" sends each of its lines
-- once, then stops the thread when all are answered (checkouts: a cart is checked out once);
-- "cycle" goes round them until wrk's duration ends (cart changes). A response counts as
-- failed unless it is a 200 whose body holds OK and no error object. An optional PAUSE
-- (milliseconds, after THREADS) makes each connection wait that long before each request, as a
-- shopper pauses (bench/mixed.py's readers); wrk's latencies leave the pause out. The figures
-- go to standard output as one "BENCH {json}" line.

local mode, ok, mine, taken, sent, answered, pause
local threads = {}
failed = 0 -- global, so done() reads it through thread:get

local count = 0
function setup(thread)
  count = count + 1
  thread:set("id", count)
  threads[count] = thread
end

function init(args)
  mode, ok = args[1], args[3]
  pause = tonumber(args[5] or "0") or 0
  local total = tonumber(args[4])
  mine, taken, sent, answered = {}, 0, 0, 0
  local i = 0
  for line in io.lines(args[2]) do
    if #line > 0 then
      i = i + 1
      if (i - id) % total == 0 then
        local path, token, body = line:match("^([^\t]*)\t([^\t]*)\t(.*)$")
        local headers = { ["Content-Type"] = "application/json" }
        if #token > 0 then headers["X-Cart-Token"] = token end
        mine[#mine + 1] = wrk.format("POST", path, headers, body)
      end
    end
  end
end

function delay()
  -- wrk asks this before each request() of a connection, and several connections may ask
  -- before any of them sends: a request is taken here, so none is sent twice or past the end.
  -- A connection with nothing left to send waits (its thread stops before this ends).
  if mode == "once" and taken >= #mine then return 3600000 end
  taken = taken + 1
  return pause
end

function request()
  -- wrk also calls this once before the run (to count pipelined requests): that call, with
  -- nothing taken, gets the first request without using it up.
  if sent < taken then sent = sent + 1 end
  if mode == "once" then return mine[math.max(sent, 1)] end
  return mine[(math.max(sent, 1) - 1) % #mine + 1]
end

function response(status, headers, body)
  answered = answered + 1
  if status ~= 200 or not body:find(ok, 1, true) or body:find('"errors":[{', 1, true) then
    failed = failed + 1
  end
  if mode == "once" and answered == #mine then
    -- wrk itself would wait out its whole duration: the bench interrupts it on this line.
    io.stderr:write("DONE\n")
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do bad = bad + thread:get("failed") end
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests":%d,"duration_us":%.0f,"p50_us":%.0f,"p99_us":%.0f,"failed":%d,"socket_errors":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    bad, e.connect + e.read + e.write + e.timeout))
end

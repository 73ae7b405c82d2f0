-- wrk script of bench/lookup.py: `wrk ... --script bench/lookup.lua URL -- KIND INPUTS_DIR`.
-- KIND is floor ({ __typename }), page (the PWA's product document, by hash) or plain (the Starlette
-- route); page and plain ask for a random demo barcode at a random demo store. The figures go
-- to standard output as one "BENCH {json}" line.

local kind, codes, stores, page, floor

local function lines(path)
  local found = {}
  for line in io.lines(path) do
    if #line > 0 then found[#found + 1] = line end
  end
  return found
end

local function read(path)
  local file = assert(io.open(path))
  local text = file:read("*a")
  file:close()
  return text
end

local count = 0
function setup(thread)
  count = count + 1
  thread:set("id", count)
end

function init(args)
  kind = args[1]
  local dir = args[2]
  math.randomseed(7 + (id or 0))
  codes, stores = lines(dir .. "/codes.txt"), lines(dir .. "/stores.txt")
  page, floor = read(dir .. "/page.json"), read(dir .. "/floor.json")
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  if kind == "floor" then
    return wrk.format("POST", "/graphql", nil, '{"query":' .. floor .. '}')
  end
  local code, store = codes[math.random(#codes)], stores[math.random(#stores)]
  if kind == "page" then
    local variables = '{"gtin":"' .. code .. '","storeId":"' .. store .. '"}'
    return wrk.format("POST", "/graphql", nil, '{"extensions":' .. page .. ',"variables":' .. variables .. '}')
  end
  return wrk.format("GET", "/bench/product/" .. code .. "?storeId=" .. store)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests":%d,"duration_us":%.0f,"p50_us":%.0f,"p99_us":%.0f,"status_errors":%d,"socket_errors":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout))
end

-- wrk script for bench/put_throughput.py: PUTs of a realistic item body, rotating over
-- many API keys, counting every response status.
--
--   wrk -t1 -c16 -d15s -s bench/put.lua http://127.0.0.1:PORT -- KEYS_FILE PATH_PREFIX TAG MODE [NITEMS]
--
-- MODE "create": every request a new external id (TAG-<thread>-<n>): creates.
-- MODE "update": item j of NITEMS (id TAG-j, always sent with key j mod #keys) is PUT
--   again and again with a new price each time: after the first pass, updates.
-- Keys rotate one per request, so each key sees about rate/#keys requests per second.
-- The result is printed as one line "BENCH_JSON {...}".

local threads = {}
local next_tid = 0

function setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
  table.insert(threads, thread)
end

local BODY = '{"title":"Volvo XC90 bromsok fram v\\u00e4nster","description":"Testad och fungerande. Skick B. Demonterad fr\\u00e5n en XC90 2018 med 12 000 mil.",'
  .. '"price":%d,"shippingCost":149,"weightKg":3.2,"currency":"SEK",'
  .. '"imageUrls":["https://cdn.example.com/parts/12345/1.jpg","https://cdn.example.com/parts/12345/2.jpg","https://cdn.example.com/parts/12345/3.jpg"],'
  .. '"domain":{"domain":"automotive_part","oemCode":"31400452","manufacturer":"Volvo","compatibleModels":["XC90","XC90 II"],"donorVehicleYear":2018,"conditionGrade":"B"},'
  .. '"autoPublishTradera":true,"useAiEnhancement":false}'

local keys = {}
local nkeys, prefix, tag, mode, nitems
local counter = 0
local static_body

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then keys[#keys + 1] = line end
  end
  nkeys = #keys
  prefix, tag, mode = args[2], args[3], args[4] or "create"
  nitems = tonumber(args[5] or "1000")
  static_body = string.format(BODY, 950)
  n202, n429, n4xx, n5xx, nother = 0, 0, 0, 0, 0
  -- threads start at different keys so they do not hit the same key together
  counter = tid * 7919
end

function request()
  counter = counter + 1
  local key, id, body
  if mode == "update" then
    local j = counter % nitems
    key = keys[(j % nkeys) + 1]
    id = tag .. "-" .. j
    body = string.format(BODY, 100 + counter % 100000)
  else
    key = keys[(counter % nkeys) + 1]
    id = tag .. "-" .. tid .. "-" .. counter
    body = static_body
  end
  return wrk.format("PUT", prefix .. id,
    {["Host"] = wrk.headers["Host"], ["x-api-key"] = key, ["Content-Type"] = "application/json"},
    body)
end

function response(status, headers, body)
  if status == 202 then n202 = n202 + 1
  elseif status == 429 then n429 = n429 + 1
  elseif status >= 500 then n5xx = n5xx + 1
  elseif status >= 400 then n4xx = n4xx + 1
  else nother = nother + 1 end
end

function done(summary, latency, requests)
  local c = {n202 = 0, n429 = 0, n4xx = 0, n5xx = 0, nother = 0}
  for _, t in ipairs(threads) do
    for name, _ in pairs(c) do c[name] = c[name] + (t:get(name) or 0) end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"status":{"202":%d,"429":%d,"other_4xx":%d,"5xx":%d,"other":%d},' ..
    '"socket_errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d},' ..
    '"latency_us":{"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,"max":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    c.n202, c.n429, c.n4xx, c.n5xx, c.nother,
    e.connect, e.read, e.write, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end

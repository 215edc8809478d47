-- wrk script for benchmarks/e2e.py and benchmarks/memory.py (loopback only).
--   BENCH_TOKEN_FILE  one token (first line): sent as "Authorization: Bearer <token>" on
--                     every request (a static request, wrk's fastest path)
--   BENCH_POOL_FILE   one token per line: each request takes the next token, round-robin
--                     (each thread starts at its own offset, after BENCH_POOL_OFFSET)
--   BENCH_DPOP_FILE   first line a DPoP-bound token, then one DPoP proof per line: each request
--                     sends "Authorization: DPoP <token>" and the next proof ("DPoP: <proof>"),
--                     each proof once; after the last one they start over, and the server refuses
--                     those replays (non-2xx): benchmarks/e2e.py makes the file larger than the run
--   BENCH_DELAY_MS    think time per connection between requests (bounds the offered rate)
-- done() prints one line "WRKJSON {...}" with the exact counts and latency percentiles (µs).

local token_file = os.getenv("BENCH_TOKEN_FILE")
local pool_file = os.getenv("BENCH_POOL_FILE")
local delay_ms = tonumber(os.getenv("BENCH_DELAY_MS") or "")

if token_file and token_file ~= "" then
  local f = assert(io.open(token_file, "r"))
  wrk.headers["Authorization"] = "Bearer " .. f:read("*l")
  f:close()
end

if pool_file and pool_file ~= "" then
  local tokens = {}
  local n = 0
  for line in io.lines(pool_file) do
    if line ~= "" then
      n = n + 1
      tokens[n] = line
    end
  end
  local offset = tonumber(os.getenv("BENCH_POOL_OFFSET") or "") or 0
  local i = 0
  local headers = {}

  function init(args)
    -- Spread the threads over the pool (wrk gives each thread its own Lua state).
    local index = tonumber(wrk.thread:get("index")) or 0
    local count = tonumber(wrk.thread:get("count")) or 1
    i = (offset + math.floor(n * index / count)) % n
  end

  local threads = {}

  function setup(thread)
    threads[#threads + 1] = thread
    for k, t in ipairs(threads) do
      t:set("index", k - 1)
      t:set("count", #threads)
    end
  end

  function request()
    i = i + 1
    if i > n then
      i = 1
    end
    headers["Authorization"] = "Bearer " .. tokens[i]
    return wrk.format(nil, nil, headers)
  end
end

local dpop_file = os.getenv("BENCH_DPOP_FILE")

if dpop_file and dpop_file ~= "" then
  local proofs = {}
  local n = 0
  local authorization = nil
  for line in io.lines(dpop_file) do
    if line ~= "" then
      if authorization == nil then
        authorization = "DPoP " .. line
      else
        n = n + 1
        proofs[n] = line
      end
    end
  end
  local i = 0
  local headers = {["Authorization"] = authorization}

  function request()
    i = i + 1
    if i > n then
      i = 1
    end
    headers["DPoP"] = proofs[i]
    return wrk.format(nil, nil, headers)
  end
end

if delay_ms then
  function delay()
    return delay_ms
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "bytes": %d, "non2xx": %d, '
      .. '"connect_errors": %d, "read_errors": %d, "write_errors": %d, "timeouts": %d, '
      .. '"p50_us": %d, "p90_us": %d, "p99_us": %d, "p999_us": %d, "max_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.status, e.connect, e.read, e.write,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, latency.mean))
end

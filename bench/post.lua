-- wrk script for bench/run.sh: POST /items/{id} with a ~500-byte JSON body
-- and a Bearer JWT, the shape of request an audit rule records.
--
--   wrk ... -s bench/post.lua http://HOST:PORT -- ITEM_ID
--
-- The request is static (no request() function), so wrk builds it once and
-- spends no Lua time per request. done() prints one machine-readable line.

-- Claims: {"sub":"u-1001","name":"Bench User","role":"editor","iat":1700000000}.
-- auditproxy decodes but does not verify it, so the signature is filler.
local jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
  .. ".eyJzdWIiOiJ1LTEwMDEiLCJuYW1lIjoiQmVuY2ggVXNlciIsInJvbGUiOiJlZGl0b3IiLCJpYXQiOjE3MDAwMDAwMDB9"
  .. ".c2lnbmF0dXJlLW5vdC1jaGVja2VkLWJ5LWF1ZGl0cHJveHk"

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. jwt
wrk.body = '{"name":"Widget 42","price":12.5,"currency":"EUR","sku":"WID-0042",'
  .. '"stock":{"warehouse":"fra-1","quantity":118,"reserved":7},'
  .. '"tags":["hardware","blue","metric","bestseller"],'
  .. '"dimensions":{"width_mm":120,"height_mm":45,"depth_mm":30,"weight_g":210},'
  .. '"description":"A sturdy blue widget with metric threads, sold in packs of '
  .. 'ten. Suitable for indoor and outdoor use; the coating resists salt spray '
  .. 'for 500 hours. Replaces WID-0041, which is discontinued.",'
  .. '"updated_by":"u-1001","revision":17}'

function init(args)
  local id = args[1] or "bench"
  wrk.path = "/items/" .. id
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK_RESULT requests=%d duration_us=%d status_errors=%d connect_errors=%d "
      .. "read_errors=%d write_errors=%d timeouts=%d p50_us=%d p99_us=%d body_bytes=%d\n",
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write,
    e.timeout, latency:percentile(50), latency:percentile(99), #wrk.body))
end

-- POST /audit_logs/events with a schema-checked event and a fresh Idempotency-Key per request, as
-- the official Node SDK sends it (wrk script). Reads BENCH_ORG from the environment.
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

local counter = 0
local body = string.format([[{"organization_id":"%s","event":{"action":"user.signed_in","version":1,
"occurred_at":"2026-12-01T10:00:00Z","actor":{"id":"user_01","type":"user","name":"Jon",
"metadata":{"role":"admin"}},"targets":[{"id":"team_01","type":"team","name":"Core"}],
"context":{"location":"203.0.113.7","user_agent":"bench"},"metadata":{"attempts":1}}}]],
  os.getenv("BENCH_ORG"))

-- wrk.format replaces wrk.headers (which hold the API key from -H) with the table it is given,
-- so each request's headers start as a copy of them.
function request()
  counter = counter + 1
  local headers = {}
  for k, v in pairs(wrk.headers) do headers[k] = v end
  headers["Content-Type"] = "application/json"
  headers["Idempotency-Key"] = string.format("bench-%d-%d-%d", os.time(), tid or 0, counter)
  return wrk.format("POST", nil, headers, body)
end

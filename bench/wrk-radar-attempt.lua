-- POST /radar/attempts (wrk script): a sign-in attempt per request, each from its own IP
-- address and email so that no control trips and every request takes the full path (lists,
-- counters, profile, insert). The Authorization header comes from wrk's -H (wrk.headers).
wrk.headers["Content-Type"] = "application/json"
local n = 0
request = function()
  n = n + 1
  local ip = string.format("10.%d.%d.%d", math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256)
  local body = string.format(
    '{"ip_address":"%s","user_agent":"Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0",' ..
    '"email":"user%d-%d@example.com","auth_method":"Password","action":"sign-in"}',
    ip, n, math.random(1, 1000000000))
  return wrk.format("POST", nil, nil, body)
end

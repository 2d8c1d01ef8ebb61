-- wrk script: on-site job intake with auto-assignment at varying points of
-- eastern and central China. The token comes from the environment.
local counter = 0
local token = os.getenv("REPAIRNET_TOKEN")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. token
request = function()
  counter = counter + 1
  local lat = 22.5 + (counter * 7919 % 1700) / 100.0   -- 22.5..39.5 N
  local lon = 108 + (counter * 104729 % 1400) / 100.0 -- 108..122 E
  local body = string.format(
    '{"kind":"onsite","customer":{"name":"压测","phone":"1380000%04d"},"lat":%.4f,"lon":%.4f,' ..
    '"product":"notebook","purchase_date":"2026-10-01","problem":"bench"}', counter % 10000, lat, lon)
  return wrk.format(nil, "/api/v1/jobs", nil, body)
end

-- wrk script: nearest-station queries at random points over China's populated
-- east and centre (deterministic sequence per thread).
local counter = 0
request = function()
  counter = counter + 1
  local lat = 22 + (counter * 7919 % 2000) / 100.0   -- 22..42 N
  local lon = 100 + (counter * 104729 % 2200) / 100.0 -- 100..122 E
  return wrk.format("GET", string.format("/api/v1/stations/nearest?lat=%.4f&lon=%.4f&k=5", lat, lon))
end

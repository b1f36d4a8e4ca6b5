-- wrk script: /v2/measurements/point at random places in the town (the apikey header comes
-- from wrk's -H option). A new ~11 m grid cell nearly every time: interpolated afresh.
math.randomseed(7)

function request()
  local lat = 52.165 + math.random() * 0.030
  local lng = 21.53 + math.random() * 0.070
  return wrk.format("GET", string.format("/v2/measurements/point?lat=%.6f&lng=%.6f", lat, lng))
end

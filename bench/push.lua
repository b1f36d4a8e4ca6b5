-- wrk script: airrohr pushes from many devices (one line "uid;Authorization" per device).
-- Each request: the next device, a combined payload with 10 readings and 5 status values.
local devices = {}
local counter = 0
local close = false

function init(args)
  close = args[2] == "close"  -- a new connection for every push, as the firmware does
  for line in io.lines(args[1]) do
    local uid, auth = line:match("([^;]+);(.+)")
    devices[#devices + 1] = { uid = uid, auth = auth, id = uid:match("%-(%d+)$") }
  end
  counter = math.random(#devices)
end

function request()
  counter = counter + 1
  local d = devices[(counter % #devices) + 1]
  local body = string.format(
    '{"esp8266id":"%s","software_version":"NRZ-2024-135","sensordatavalues":[' ..
    '{"value_type":"SDS_P1","value":"%d.%02d"},{"value_type":"SDS_P2","value":"5.27"},' ..
    '{"value_type":"PMS_P0","value":"4.00"},{"value_type":"PMS_P1","value":"8.00"},' ..
    '{"value_type":"PMS_P2","value":"6.00"},{"value_type":"BME280_temperature","value":"14.09"},' ..
    '{"value_type":"BME280_pressure","value":"100405.00"},{"value_type":"BME280_humidity","value":"71.97"},' ..
    '{"value_type":"SHT3X_temperature","value":"13.80"},{"value_type":"SHT3X_humidity","value":"70.10"},' ..
    '{"value_type":"samples","value":"%d"},{"value_type":"min_micro","value":"28"},' ..
    '{"value_type":"max_micro","value":"20083"},{"value_type":"interval","value":"145000"},' ..
    '{"value_type":"signal","value":"-67"}]}',
    d.id, counter % 60, counter % 100, counter)
  local headers = { ["Content-Type"] = "application/json", ["X-Sensor"] = d.uid,
                    ["Authorization"] = d.auth }
  if close then headers["Connection"] = "close" end
  return wrk.format("POST", "/api/v1/push/sensor-community", headers, body)
end

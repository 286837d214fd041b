#!file://lua:lua.nexe
-- POST this file with X-Zerovm-Execute: 1.0 to a server started with
-- --sysimage lua=lua.zapp; POSTed to an object, io.read reads that object.
package.path = "/?.lua;" .. package.path
local greet = require "greet"
print(greet.hello("zerovm serve"))
local input = io.read("*a")
if input and #input > 0 then
  local words = 0
  for _ in input:gmatch("%S+") do words = words + 1 end
  print("the object has " .. words .. " words")
end

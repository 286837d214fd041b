-- Arithmetic, strings and patterns, tables, closures, metatables.
print(1 + 2, 10 / 3, 7 % 3, -7 % 3, 2 ^ 10, math.floor(-3.5), math.huge, -math.huge)
print(0.1 + 0.2, 1e100, 100000000000000, 2 ^ 53 + 1, 1 / 3 * 3 == 1)
print(math.sqrt(2), math.sin(1), math.exp(1), math.log(10), math.fmod(7.5, 2), math.max(3, 9, 1))
print(string.format("%5.2f|%-5d|%s|%q|%x|%g|%e", math.pi, 42, "x", "a\nb\"", 255, 1e20, 12345.678))
print(("hello world"):gsub("o", "0"))
print(string.find("abc123def", "%d+"), string.match("key = value", "(%w+)%s*=%s*(%w+)"))
for k, v in string.gmatch("a=1, b=2, c=3", "(%w+)=(%w+)") do io.write(k, v, ";") end print()
print(string.rep("ab", 3, "-"), #"xyz", ("Hello"):upper(), ("Hello"):byte(1, -1))
print(tostring(nil), tonumber("0x10"), tonumber("  12  "), tonumber("1e3"), tonumber("z", 36))
local t = {}
for i = 1, 10 do t[i] = i * i end
print(table.concat(t, ","), #t, select("#", 1, 2, 3), select(2, "a", "b", "c"))
table.sort(t, function(a, b) return a > b end)
print(table.concat(t, " "))
table.insert(t, 1, 0); table.remove(t); print(table.concat(t, " "), table.unpack({1, 2, 3}))
local function counter()
  local n = 0
  return function() n = n + 1; return n end
end
local c1, c2 = counter(), counter()
print(c1(), c1(), c2(), c1())
local mt = {__add = function(a, b) return a.v + b.v end, __tostring = function(s) return "V(" .. s.v .. ")" end,
  __index = function(_, k) return k .. "!" end}
local a = setmetatable({v = 1}, mt)
print(a + setmetatable({v = 2}, mt), tostring(a), a.missing)
local keys = {}
for k in pairs({x = 1, y = 2, z = 3}) do keys[#keys + 1] = k end
table.sort(keys); print(table.concat(keys))
print(bit32.band(0xff, 0x0f), bit32.lshift(1, 10), bit32.bxor(5, 3))
local s = 0
for i = 1, 100000 do s = s + i % 7 end
print(s, string.format("%.14g", 2 / 3))
goto done
print("skipped")
::done::
print(#arg, arg[0] ~= nil)

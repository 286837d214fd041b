-- io.read / io.write on stdin and stdout, require of a module from the image, os functions.
local count, total = 0, 0
for line in io.lines() do
  count = count + 1
  total = total + #line
end
io.write("lines ", count, " chars ", total, "\n")
local mod = require("mod")
print(mod.greet("zerovm"), package.loaded.mod == mod)
local f = assert(io.open("data/numbers.txt"))
local sum = 0
for n in f:lines() do sum = sum + tonumber(n) end
f:close()
print("sum", sum)
print(io.open("missing.txt"))
print(os.time({year = 2020, month = 1, day = 1, hour = 0}))
print(os.date("!%Y-%m-%d %H:%M:%S", 86400 * 365))
print(type(os.time()), type(os.clock()), os.getenv("LUA_TEST_VAR"))
io.stderr:write("to stderr\n")

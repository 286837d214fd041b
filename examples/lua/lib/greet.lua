-- A module inside the system image: scripts `require "greet"` it from the
-- image's root, which the server mounts read-only at '/'.
local M = {}
function M.hello(name)
  return "hello, " .. name .. " from Lua " .. _VERSION:sub(5)
end
return M

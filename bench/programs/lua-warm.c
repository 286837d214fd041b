/* Lua 5.2 with a warm start (bench/warm-start.bench.ts): open the standard
 * libraries and compile a table of helper functions (the set-up), call
 * zvm_fork() (TrapFork: each request starts here), then run the request's
 * script from stdin. Built with Lua's own sources, as the interpreter is. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <zerovm.h>
#include "lua.h"
#include "lauxlib.h"
#include "lualib.h"

static char script[1 << 16];

int main(void) {
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  /* a set-up worth skipping: precompile a library of helpers */
  luaL_dostring(L, "helpers = {} for i = 1, 2000 do helpers[i] = load('return function(x) return x + ' .. i .. ' end')() end");
  int forked = zvm_fork();
  ssize_t n = read(0, script, sizeof script);
  if (n < 0) n = 0;
  if (luaL_loadbuffer(L, script, (size_t)n, "request") || lua_pcall(L, 0, 0, 0)) {
    fprintf(stderr, "%s\n", lua_tostring(L, -1));
    return 1;
  }
  fflush(stdout);
  return forked;
}

/* The Lua interpreter of the example system image (examples/lua/build.sh):
 * `lua.nexe SCRIPT [ARGS...]` runs SCRIPT with ARGS in the global `arg`
 * (arg[0] the script, arg[1..] the rest), as Lua's stock `lua` does for
 * that form; errors go to stderr as "lua: MESSAGE" with exit status 1.
 *
 * Unlike the stock interpreter it starts warm in a server: it creates the
 * state, opens the standard libraries and puts the image's root ('/')
 * first on package.path, then calls zvm_fork() (TrapFork). `zerovm serve`
 * keeps that set-up as a snapshot and starts each later script request
 * there with the request's own channels (spec/serving.md, "Warm starts in
 * zerovm serve"); anywhere else TrapFork returns at once and it runs as a
 * plain interpreter. Nothing of a request is read before the fork. */
#include <stdio.h>
#include <stdlib.h>
#include <zerovm.h>
#include "lauxlib.h"
#include "lua.h"
#include "lualib.h"

static int report(lua_State *L, int status) {
  if (status != LUA_OK) {
    const char *message = lua_tostring(L, -1);
    fprintf(stderr, "lua: %s\n", message != NULL ? message : "(error object is not a string)");
    lua_pop(L, 1);
  }
  return status;
}

/* A traceback for errors, as the stock interpreter gives. */
static int traceback(lua_State *L) {
  const char *message = lua_tostring(L, 1);
  if (message == NULL) message = "(error object is not a string)";
  luaL_traceback(L, L, message, 1);
  return 1;
}

int main(int argc, char **argv) {
  lua_State *L = luaL_newstate();
  if (L == NULL) {
    fprintf(stderr, "lua: cannot create state: not enough memory\n");
    return EXIT_FAILURE;
  }
  luaL_openlibs(L);
  /* the image's modules first: scripts `require` them by name */
  luaL_dostring(L, "package.path = '/?.lua;/?/init.lua;' .. package.path");
  zvm_fork();
  if (argc < 2) {
    fprintf(stderr, "usage: lua.nexe SCRIPT [ARGS...]\n");
    return EXIT_FAILURE;
  }
  lua_createtable(L, argc - 2, 1);
  for (int i = 1; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i - 1);
  }
  lua_setglobal(L, "arg");
  lua_pushcfunction(L, traceback);
  int status = luaL_loadfile(L, argv[1]);
  if (status == LUA_OK) {
    for (int i = 2; i < argc; i++) lua_pushstring(L, argv[i]);
    status = lua_pcall(L, argc - 2, 0, -(argc - 2) - 2);
  }
  report(L, status);
  fflush(stdout);
  lua_close(L);
  return status == LUA_OK ? EXIT_SUCCESS : EXIT_FAILURE;
}

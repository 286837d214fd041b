#!/usr/bin/env bash
# Builds lua.zapp, a system image for `zerovm serve --sysimage lua=lua.zapp`:
# Lua 5.2 from Debian's unmodified sources (package librust-lua52-sys-dev),
# compiled with `zerovm cc` as its Makefile's `generic` target does, with
# main.c here in place of the stock lua.c (it sets up, then forks, so that
# the server starts each script warm), bundled with `zerovm bundle`.
# Scripts then run it with a first line `#!file://lua:lua.nexe`
# (spec/serving.md, "Scripts" and "Warm starts in zerovm serve").
#
#   examples/lua/build.sh [OUT_DIR]     (default: examples/lua/build)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${1:-$here/build}"
src="${ZEROVM_LUA52_SRC:-/usr/share/cargo/registry/lua52-sys-0.1.2/lua/src}"
if [ ! -d "$src" ]; then
  echo "Lua 5.2 sources not found at $src (Debian: apt-get install librust-lua52-sys-dev, or set ZEROVM_LUA52_SRC)" >&2
  exit 1
fi
mkdir -p "$out"
sources=()
for f in "$src"/*.c; do
  case "$(basename "$f")" in lua.c | luac.c) ;; *) sources+=("$f") ;; esac
done
node "$root/bin/zerovm.js" cc -O2 -DLUA_COMPAT_ALL -I "$src" -o "$out/lua.nexe" "$here/main.c" "${sources[@]}" -lm
node "$root/bin/zerovm.js" bundle -o "$out/lua.zapp" --name lua --version 5.2 --program "$out/lua.nexe" "$here/lib"
echo "$out/lua.zapp"

#!/usr/bin/env bash
# Cross-builds the addon for arm64 Linux into native/build-arm64/cmake (cmake-js
# with scripts/arm64/aarch64-linux-gnu.cmake; the host build in native/build
# is untouched), then stages bin/ + dist/ + the arm64 addons in
# native/build-arm64/stage for scripts/arm64/zerovm.sh and the arm64 tests,
# and the same dist/ with the host's addons in native/build-arm64/host-stage.
# Needs scripts/arm64/setup.sh first, dist/ built (npm run build) and the
# host's addons (npm run build:native).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ARM64_ROOT"

command -v aarch64-linux-gnu-g++ >/dev/null || arm64_die "no aarch64-linux-gnu-g++: run scripts/arm64/setup.sh"
[ -e /usr/lib/aarch64-linux-gnu/libunicorn.so ] || arm64_die "no arm64 libunicorn: run scripts/arm64/setup.sh"
[ -f dist/cli/main.js ] || arm64_die "dist/ is not built: run npm run build"

start=$SECONDS
mkdir -p "$ARM64_OUT"
npx --no-install cmake-js compile -d native -O "$ARM64_BUILD" -a arm64 \
  --CDCMAKE_TOOLCHAIN_FILE="$ARM64_TOOLCHAIN" >"$ARM64_OUT/build.log" 2>&1 ||
  { cat "$ARM64_OUT/build.log" >&2; arm64_die "the cross-build failed (log above, also in $ARM64_OUT/build.log)"; }

# An addon is only useful here if it really is an arm64 ELF (e_machine 183 at
# byte 18): a host compiler picked up by mistake must not pass unnoticed.
addons=()
for addon in "$ARM64_BUILD"/Release/*.node; do
  [ -e "$addon" ] || continue
  machine="$(od -An -tu2 -j18 -N2 "$addon" | tr -d ' ')"
  [ "$machine" = 183 ] || arm64_die "$addon is not an arm64 ELF (e_machine $machine)"
  addons+=("$addon")
done
[ "${#addons[@]}" -gt 0 ] || arm64_die "the cross-build made no addon in $ARM64_BUILD/Release (log: $ARM64_OUT/build.log)"
arm64_log "cross-built in $((SECONDS - start)) s: ${addons[*]#"$ARM64_OUT/"}"

# stage DIR ADDON...: bin/, dist/ and package.json with the addons where the
# engines look for them (native/build/Release above dist/).
stage() {
  local dir="$1"
  shift
  rm -rf "$dir"
  mkdir -p "$dir/native/build/Release"
  cp -R bin dist package.json "$dir/"
  cp "$@" "$dir/native/build/Release/"
  arm64_log "staged ${dir#"$ARM64_ROOT/"} with ${*##*/}"
}
stage "$ARM64_STAGE" "${addons[@]}"
host_addons=(native/build/Release/zerovm_native.node native/build/Release/zerovm_unicorn.node)
for addon in "${host_addons[@]}"; do
  [ -e "$addon" ] || arm64_die "$addon is not built; the host side of the comparison needs it: npm run build:native"
done
stage "$ARM64_HOST_STAGE" "${host_addons[@]}"

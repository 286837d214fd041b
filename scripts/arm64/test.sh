#!/usr/bin/env bash
# npm run test:arm64: the Unicorn engine on an arm64 userland, end to end.
#   1. setup.sh: multiarch packages and the arm64 Node (each only if missing)
#   2. npm run build: dist/ for both sides (it is plain JavaScript)
#   3. build.sh: cross-build the addon for arm64 and stage it with dist/
#   4. vitest on test/arm64: the examples and a differential smoke set, arm64
#      Unicorn under qemu-aarch64 against the native engine on this host
# Prints the time of each step. Needs an x86-64 Debian host with the native
# addon built (npm install builds it), and root when packages are missing.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ARM64_ROOT"

step() {
  local name="$1"
  shift
  local start=$SECONDS
  "$@"
  arm64_log "$name: $((SECONDS - start)) s"
}

total=$SECONDS
step setup bash scripts/arm64/setup.sh
step "build dist" npm run --silent build
step cross-build bash scripts/arm64/build.sh
step "arm64 tests" npx --no-install vitest run --config test/arm64/vitest.config.ts
arm64_log "total: $((SECONDS - total)) s"

#!/usr/bin/env bash
# The zerovm command on arm64: the arm64 Node under qemu-aarch64, running
# the staged dist/ with the cross-built addons (scripts/arm64/build.sh).
#   scripts/arm64/zerovm.sh run --engine unicorn examples/hello.nexe
set -euo pipefail
source "$(dirname "$0")/env.sh"
[ -x "$ARM64_NODE" ] || arm64_die "no arm64 node: run scripts/arm64/setup.sh"
[ -f "$ARM64_STAGE/bin/zerovm.js" ] || arm64_die "nothing staged: run scripts/arm64/build.sh"
exec qemu-aarch64 "$ARM64_NODE" "$ARM64_STAGE/bin/zerovm.js" "$@"
